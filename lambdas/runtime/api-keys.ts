import { ApiKeyStore } from '../store/api-key-store';
import type { RuntimeOptions } from './base';

/** The API keys (api.auth "apiKeys" or "both"): the authorizer and the admin key routes. */
export interface ApiKeyWiring {
  apiKeys: ApiKeyStore;
}

export function createApiKeyWiring(options: RuntimeOptions): ApiKeyWiring {
  return { apiKeys: new ApiKeyStore(options.doc, options.tableName) };
}
