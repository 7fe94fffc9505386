// Central's routes are described and validated by the shared builder (kit/http/zod-route.ts), with central's default
// tag and its two ways in (a session cookie, an API token) as security schemes.
import { routeDocs } from '../../kit/http/zod-route.js';

export { ErrorSchema, invalidRequest, zodValidate } from '../../kit/http/zod-route.js';
export const docs = routeDocs({ tag: 'sites', securitySchemes: ['session', 'token'] });
