import { SendTaskSuccessCommand, SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import type { ExecutionPort } from '../core/control';

/** Step Functions as the execution engine of the RunControl: StartExecution, SendTaskSuccess, StopExecution. */
export function sfnExecutions(stateMachineArn: string, client = new SFNClient({})): ExecutionPort {
  return {
    async start({ runId, userId, attempt }) {
      // The execution name is the runId; a resume from the checkpoint needs a fresh name, the input keeps the runId.
      const name = attempt === 0 ? runId : `${runId}-r${attempt}`;
      const out = await client.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify({ runId, userId }) }));
      return { executionArn: out.executionArn };
    },
    async sendTaskSuccess(taskToken, output) {
      await client.send(new SendTaskSuccessCommand({ taskToken, output }));
    },
    async stop({ executionArn }) {
      if (!executionArn) return;
      try {
        await client.send(new StopExecutionCommand({ executionArn, error: 'Cancelled', cause: 'cancelled by the user' }));
      } catch (err) {
        if ((err as { name?: string }).name !== 'ExecutionDoesNotExist') throw err;
      }
    },
  };
}
