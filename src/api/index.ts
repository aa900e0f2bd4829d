export { buildApi, BODY_LIMIT_BYTES, type ApiOptions } from "./server.js";
export { toProblem, type Problem } from "./problem.js";
export { withErrorTable } from "./error-docs.js";
export type { Principal, LocalPrincipal } from "./auth.js";
