import { AsyncLocalStorage } from 'node:async_hooks';
import { LOCAL_REGION } from '../template';
import { accessKeyIdOf } from './roles';

/**
 * Which function is running: the engine invokes every handler inside `asCaller(logicalId, ...)`, so each AWS call
 * the handler makes (however deep, however late) is sent by that function's own client.
 */
const caller = new AsyncLocalStorage<string>();

export const asCaller = <T>(functionLogicalId: string, fn: () => T): T => caller.run(functionLogicalId, fn);
export const currentCaller = (): string | undefined => caller.getStore();

/** The credentials a function's clients carry offline: an access key id naming it (its role, local/iam/roles.ts). */
export const credentialsOf = (functionLogicalId: string) => ({ accessKeyId: accessKeyIdOf(functionLogicalId), secretAccessKey: 'local' });

/** Client config of a function's AWS clients offline (the one injection point of IAM offline). */
export const clientConfigOf = (functionLogicalId: string, endpoint: string) => ({ endpoint, region: LOCAL_REGION, credentials: credentialsOf(functionLogicalId) });

type Sender = { send: (...args: never[]) => unknown; destroy: () => void };

/**
 * The engine's handlers share one runtime in-process; in AWS each function has its own clients. This makes `client`
 * send each request with the client of the function that is running — a real SDK client built by `make` with that
 * function's credentials — and with `client` itself outside any handler (the engine's own and tests' calls).
 * Returns a function that destroys the per-function clients.
 */
export function routeByCaller<C extends Sender>(client: C, make: (functionLogicalId: string) => C): () => void {
  const clients = new Map<string, C>();
  const own = client.send.bind(client) as C['send'];
  client.send = ((...args: never[]) => {
    const id = caller.getStore();
    if (id === undefined) return own(...args);
    let c = clients.get(id);
    if (!c) {
      c = make(id);
      clients.set(id, c);
    }
    return c.send(...args);
  }) as C['send'];
  return () => {
    for (const c of clients.values()) c.destroy();
  };
}
