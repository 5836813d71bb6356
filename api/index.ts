/** HTTP API and pages. */
export { HttpServer } from './HttpServer.js';
