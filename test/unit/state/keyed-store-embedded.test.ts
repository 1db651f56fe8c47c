import { embeddedStateStore } from '../../../state/keyed/embeddedStateStore.ts';
import type { StateStore } from '../../../topology/index.ts';
import { describeStateStoreConformance } from '../../support/keyedStoreConformance.ts';

// the embedded store's state is the store object: another worker on the same state is the same object
let last: StateStore | undefined;
describeStateStoreConformance('embedded', async (again) => {
  if (again && last !== undefined) return last;
  last = embeddedStateStore();
  await last.open();
  return last;
});
