// The route walk: every route a service registered (kit/http/protect.ts keeps the inventory), called without
// credentials. Each one not named public must answer 401 or 403 and change nothing; a route added later without
// protection fails here (and the service refuses to start with it).
import type { FastifyInstance } from 'fastify';
import type { RouteInventory } from '../../kit/http/protect.js';

export interface WalkResult {
  method: string;
  url: string;
  status: number;
}

/** A concrete URL for a registered pattern: `:site` → `town`, `*` → `x`. */
export function concreteUrl(pattern: string, params: Record<string, string> = {}): string {
  return pattern.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => params[name] ?? 'x').replace(/\*/g, 'x');
}

/** Calls every non-public route with `headers` (none: no credentials) and returns what each answered. */
export async function walkProtectedRoutes(
  app: FastifyInstance,
  inventory: RouteInventory,
  options: { params?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<WalkResult[]> {
  const results: WalkResult[] = [];
  for (const route of inventory.list()) {
    if (inventory.isPublic(route.method, route.url)) continue;
    const url = concreteUrl(route.url, options.params);
    const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(route.method) ? {} : undefined;
    const response = await app.inject({ method: route.method as 'GET', url, headers: options.headers ?? {}, ...(body === undefined ? {} : { payload: body }) });
    results.push({ method: route.method, url: route.url, status: response.statusCode });
  }
  return results;
}
