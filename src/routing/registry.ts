// Routing providers by name: adding one is one file, one test and one line here.
import type { ProviderName } from '../api/canary.ts';
import { createGatewayApiRouter } from './gatewayapi.ts';
import { createKubernetesRouter } from './kubernetes.ts';
import type { RouterFactory } from './router.ts';

export const ROUTERS: Partial<Record<ProviderName, RouterFactory>> = {
  kubernetes: createKubernetesRouter,
  gatewayapi: createGatewayApiRouter,
};
