// Entry of test/nativeUdp.test.ts's worker threads. Node 20 does not carry the main thread's
// module hooks (tsx) into workers, so the worker registers tsx itself first.
import { register } from 'tsx/esm/api';

register();
await import('./nativeUdpWorker.ts');
