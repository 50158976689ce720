import { agentTableInput, ensureTable, type LocalDynamo, startDynalite } from '../../local/dynamo';

/** An in-memory dynalite with the agent table created; call `close()` in afterAll. */
export async function dynamoWithAgentTable(tableName = 'AgentTable'): Promise<LocalDynamo & { tableName: string }> {
  const dynamo = await startDynalite();
  await ensureTable(dynamo.doc, agentTableInput(tableName));
  return { ...dynamo, tableName };
}
