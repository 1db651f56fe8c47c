import { embeddedWindowState } from '../../../state/embeddedWindowState.ts';
import { describeWindowStateConformance } from '../../support/stateConformance.ts';

describeWindowStateConformance('embedded', async () => {
  const backend = embeddedWindowState();
  await backend.open();
  return backend;
});
