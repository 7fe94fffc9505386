// The console's routes are described and validated by the shared builder (kit/http/zod-route.ts), with the console's
// tag, and its session cookie or an API token as the security schemes.
import { routeDocs } from '../../kit/http/zod-route.js';

export { ErrorSchema, invalidRequest, zodValidate } from '../../kit/http/zod-route.js';
export const docs = routeDocs({ tag: 'console', securitySchemes: ['session', 'token'] });
