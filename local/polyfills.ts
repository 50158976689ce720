/**
 * aws-local-stepfunctions 3 targets node 22 (Promise.withResolvers); this machine and many laptops run node 20.
 * Lambda itself runs NODEJS_22_X, so this is only loaded by the offline engine and the tests.
 */
const P = Promise as unknown as { withResolvers?: unknown };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export {};

// The offline engine runs on node 20 knowingly (Lambda runs 22): silence the SDK's node-version notice here only.
if (Number(process.versions.node.split('.')[0]) < 22) process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
