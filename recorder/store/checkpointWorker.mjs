// Entry of the checkpoint worker thread. Node 20 does not carry the main thread's module hooks
// (tsx, which runs our TypeScript) into workers, so the worker registers tsx itself first.
import { register } from 'tsx/esm/api';

register();
await import('./checkpointWorker.ts');
