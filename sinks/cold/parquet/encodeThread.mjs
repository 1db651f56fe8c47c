// The entry of the Parquet encoding thread (`threadWriter.ts`): registers the TypeScript loader in this
// thread, which does not inherit the main thread's, then runs the thread's loop.
import { register } from 'tsx/esm/api';

register();
await import('./encodeThreadMain.ts');
