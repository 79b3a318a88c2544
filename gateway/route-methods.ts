// Which methods each route serves, so that a path the gateway knows, asked
// with a method it does not serve, answers 405 with Allow rather than 404.

function patternOf(url: string): RegExp {
  const parts = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${parts.join('/')}$`);
}

export class RouteMethods {
  readonly #routes: { pattern: RegExp; methods: readonly string[] }[] = [];

  /** Records a route as Fastify's onRoute hook sees it; GET routes answer HEAD too. */
  add(url: string, method: string | readonly string[]): void {
    const methods = typeof method === 'string' ? [method] : [...method];
    if (methods.includes('GET')) methods.push('HEAD');
    this.#routes.push({ pattern: patternOf(url), methods });
  }

  /** The methods some route serves at this path, sorted; empty if no route knows it. */
  allowedAt(path: string): string[] {
    const allowed = new Set<string>();
    for (const route of this.#routes) {
      if (route.pattern.test(path)) for (const method of route.methods) allowed.add(method);
    }
    return [...allowed].sort();
  }
}
