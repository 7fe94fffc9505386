// Protected by default, public by name. Every route a service registers is recorded; the ones registered inside a
// protected scope (a child context whose onRequest hook demands an identity) are marked so. When the server gets
// ready, a route that is neither protected nor named in the public list stops the start with its name: a route
// added later without thought fails at once, in every test and on every machine, rather than serving anyone.
import type { FastifyInstance, onRequestHookHandler } from 'fastify';

export interface PublicRoute {
  method: string;
  /** As registered: `/api/health`, `/static/*`. */
  url: string;
  /** Why anyone may call it (shown by the route-walk test when it fails). */
  why: string;
}

export interface RegisteredRoute {
  method: string;
  url: string;
  protected: boolean;
}

export class RouteInventory {
  private readonly routes = new Map<string, RegisteredRoute>();
  private readonly protectedKeys = new Set<string>();

  constructor(readonly publicRoutes: readonly PublicRoute[]) {}

  /** Every route registered so far, protected or not. */
  list(): RegisteredRoute[] {
    return [...this.routes.values()].map((r) => ({ ...r, protected: this.protectedKeys.has(key(r.method, r.url)) }));
  }

  isPublic(method: string, url: string): boolean {
    // HEAD is answered by the GET route (fastify's exposeHeadRoutes): it is as public as that route.
    const m = method === 'HEAD' ? 'GET' : method;
    return this.publicRoutes.some((p) => p.method === m && p.url === url);
  }

  /** Routes neither protected nor named public: the start refuses to go on with any. */
  unaccounted(): RegisteredRoute[] {
    return this.list().filter((r) => !r.protected && !this.isPublic(r.method, r.url));
  }

  record(method: string, url: string): void {
    this.routes.set(key(method, url), { method, url, protected: false });
  }

  markProtected(method: string, url: string): void {
    this.protectedKeys.add(key(method, url));
  }
}

function key(method: string, url: string): string {
  return `${method} ${url}`;
}

function methods(method: string | string[]): string[] {
  return Array.isArray(method) ? method : [method];
}

/** Records every route of `app` (call before any route is registered) and checks them all when it gets ready. */
export function inventoryRoutes(app: FastifyInstance, publicRoutes: readonly PublicRoute[]): RouteInventory {
  const inventory = new RouteInventory(publicRoutes);
  app.addHook('onRoute', (route) => {
    for (const m of methods(route.method)) inventory.record(m, route.url);
  });
  app.addHook('onReady', async () => {
    const loose = inventory.unaccounted();
    if (loose.length > 0) {
      throw new Error(`routes without authentication and not listed as public: ${loose.map((r) => `${r.method} ${r.url}`).join(', ')}`);
    }
  });
  return inventory;
}

/**
 * Makes `scope` (a child context, inside `register`) a protected one: `authenticate` runs before anything else of
 * every request to a route registered in it, or in its children.
 */
export function protectScope(scope: FastifyInstance, inventory: RouteInventory, authenticate: onRequestHookHandler): void {
  scope.addHook('onRequest', authenticate);
  scope.addHook('onRoute', (route) => {
    for (const m of methods(route.method)) inventory.markProtected(m, route.url);
  });
}
