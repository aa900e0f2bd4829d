/**
 * Test support shared by every domain's tests: the built CLI as a child process, a test clock, store
 * backends (SQLite and PostgreSQL), a small disk to fill, and `waitFor` with a deadline. Excluded from
 * the build. A test may also import the one file it needs (the lint rule allows it, see
 * eslint.config.js), so it does not load fixtures it does not use.
 */
export {
  CLI,
  cliEnv,
  readJson,
  readableBy,
  runCli,
  startCli,
  type BackgroundCli,
  type CliResult,
  type CliRunOptions,
} from "./cli.js";
export { createTestClock, type TestClock } from "./clock.js";
export { SmallDisk, smallDiskSkipReason } from "./small-disk.js";
export {
  postgresBaseUrl,
  storeBackends,
  type BackendOpenOptions,
  type StoreBackend,
  type StoreBackendName,
} from "./stores.js";
export { waitFor, type Truthy, type WaitForOptions } from "./wait-for.js";
