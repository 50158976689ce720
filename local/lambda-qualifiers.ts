import { randomUUID } from 'node:crypto';

/**
 * The function a Task's `FunctionName` names, as Lambda finds it for the lambda:invoke integration: the function, a
 * version the template publishes, or `<function>:$LATEST`. Any other qualifier (a version or alias that does not
 * exist) fails the task as Step Functions reports it: Lambda.ResourceNotFoundException, "Function not found".
 */
export function taskFunction<T>(functions: Map<string, T>, functionName: string): T {
  const fn = functions.get(functionName) ?? (functionName.endsWith(':$LATEST') ? functions.get(functionName.slice(0, -':$LATEST'.length)) : undefined);
  if (fn === undefined) {
    throw Object.assign(new Error(`Function not found: ${functionName} (Service: Lambda, Status Code: 404, Request ID: ${randomUUID()})`), {
      name: 'Lambda.ResourceNotFoundException',
      lambda: true,
    });
  }
  return fn;
}
