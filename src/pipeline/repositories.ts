/**
 * Watched repositories and their credentials. Two, kept apart on purpose:
 *
 * - The webhook secret, shared with GitHub, GitLab or Gitea (HMAC key or token). Shown once by
 *   `repo add`, stored only sealed under the data key (src/secrets) for the context
 *   `repositories.webhook_secret:<id>`, opened only to verify a delivery.
 * - The local hook's token (`slw_hook_…`), written into the installed git hook and stored as a SHA-256
 *   hash. It can do one thing: report pushes of its own repository to `/hooks/local/<id>`. Leaking it
 *   (the hook file is readable by whoever can read the repository's `.git`) does not let anyone sign a
 *   webhook.
 *
 * At start: secrets an earlier Slipway stored in clear are sealed (one transaction); secrets sealed
 * under another data key are reported (their webhooks answer 503 `secret_unreadable` until the key is
 * restored or the repository added again); installed hooks are rewritten when their URL or token is
 * not the current one. Hooks written by Slipway 0.1 held the webhook secret: the first start of this
 * version rewrites them with a token, so that secret leaves the hook file.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Logger } from "pino";
import { sealedKeyId, type DataKey } from "../secrets/index.js";
import { newRepositoryId, type Store, type WatchedRepository } from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import {
  hookEndpoint,
  installHooks,
  readInstalledSender,
  removeHooks,
  type InstalledHooks,
} from "./hook-script.js";

export const HOOK_TOKEN_PREFIX = "slw_hook_";
const MIN_WEBHOOK_SECRET_LENGTH = 16;

export interface AddRepositoryInput {
  name: string;
  location: string;
  /** Generated (32 characters) when absent. */
  secret?: string | undefined;
  actor: string;
  /** Where the hooks send to, when the triggers were started without a server URL. */
  serverUrl?: string | undefined;
}

export interface AddedRepository {
  repository: WatchedRepository;
  /** The webhook secret in clear: in this answer only, never stored so. */
  webhookSecret: string;
  /** The local hooks, for a repository watched by path; null for a URL (polled) or when installing failed. */
  hooks: InstalledHooks | null;
  hookError?: string;
}

export interface RepositoryKeeperOptions {
  store: Store;
  dataKey: DataKey;
  logger: Logger;
  /** Checks and normalises a location (see triggers.ts `checkLocation`). */
  checkLocation: (location: string) => Promise<{ location: string; kind: "path" | "url" }>;
}

/** The place a repository's webhook secret is sealed for. */
export function webhookSecretContext(repositoryId: string): string {
  return `repositories.webhook_secret:${repositoryId}`;
}

export function hashHookToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Whether `token` is the hook token whose hash is stored; constant time in where they differ. */
export function hookTokenMatches(storedHash: string | null, token: string): boolean {
  if (storedHash === null || !/^[0-9a-f]{64}$/.test(storedHash)) return false;
  return timingSafeEqual(Buffer.from(hashHookToken(token), "hex"), Buffer.from(storedHash, "hex"));
}

function newHookToken(): { token: string; hash: string } {
  const token = HOOK_TOKEN_PREFIX + randomBytes(24).toString("base64url");
  return { token, hash: hashHookToken(token) };
}

function randomSecret(): string {
  // 24 random bytes: 32 base64url characters.
  return randomBytes(24).toString("base64url");
}

/**
 * The webhook secret of a repository, opened.
 *
 * @throws SlipwayError("secret_unreadable") naming the repository, when it was sealed under another
 *   data key or the stored value was altered (or, for a row from an earlier version, not sealed yet).
 */
export function openWebhookSecret(dataKey: DataKey, repository: WatchedRepository): string {
  const context = webhookSecretContext(repository.id);
  if (repository.sealedWebhookSecret === null) {
    throw new SlipwayError("secret_unreadable", `cannot decrypt ${context}: it has not been sealed yet`, {
      hint: "restart the control plane: it seals the secrets an earlier version stored in clear",
    });
  }
  return dataKey.open(repository.sealedWebhookSecret, context);
}

/** Adding, removing and refreshing watched repositories, with their secret sealed and their hook token hashed. */
export class RepositoryKeeper {
  readonly #o: RepositoryKeeperOptions;

  constructor(options: RepositoryKeeperOptions) {
    this.#o = options;
  }

  webhookSecret(repository: WatchedRepository): string {
    return openWebhookSecret(this.#o.dataKey, repository);
  }

  async add(input: AddRepositoryInput, serverUrl: string | undefined): Promise<AddedRepository> {
    if (input.secret !== undefined && input.secret.length < MIN_WEBHOOK_SECRET_LENGTH) {
      // Never echo it, not even a part.
      throw new SlipwayError(
        "invalid_request",
        `a webhook secret needs at least ${MIN_WEBHOOK_SECRET_LENGTH} characters`,
      );
    }
    const { location, kind } = await this.#o.checkLocation(input.location);
    const secret = input.secret ?? randomSecret();
    const id = newRepositoryId();
    const hook = kind === "path" ? newHookToken() : undefined;
    const repository = await this.#o.store.pipelines.addRepository({
      id,
      name: input.name,
      location,
      kind,
      sealedWebhookSecret: this.#o.dataKey.seal(secret, webhookSecretContext(id)),
      hookTokenHash: hook?.hash ?? null,
      createdBy: input.actor,
    });
    if (hook === undefined) return { repository, webhookSecret: secret, hooks: null };
    const url = serverUrl ?? input.serverUrl;
    if (url === undefined) {
      return {
        repository,
        webhookSecret: secret,
        hooks: null,
        hookError: "the server's URL is not known yet",
      };
    }
    try {
      const hooks = await installHooks({ location, repositoryId: id, token: hook.token, serverUrl: url });
      return { repository, webhookSecret: secret, hooks };
    } catch (err) {
      this.#o.logger.warn({ err, repository: repository.name }, "could not install the git hooks");
      return { repository, webhookSecret: secret, hooks: null, hookError: (err as Error).message };
    }
  }

  async remove(idOrName: string, actor: string): Promise<WatchedRepository> {
    const repository = await this.#o.store.pipelines.findRepository(idOrName);
    if (repository === undefined) throw new SlipwayError("not_found", `no watched repository ${idOrName}`);
    if (repository.kind === "path") {
      await removeHooks(repository.location).catch((err: unknown) => {
        this.#o.logger.warn({ err, repository: repository.name }, "could not remove the git hooks");
      });
    }
    await this.#o.store.pipelines.removeRepository(repository.id, actor);
    return repository;
  }

  /** At start: seal what an earlier version stored in clear, report what this key cannot open, refresh hooks. */
  async prepare(serverUrl: string | undefined): Promise<void> {
    const { store, dataKey, logger } = this.#o;
    const sealed = await store.pipelines.sealClearWebhookSecrets((id, clear) =>
      dataKey.seal(clear, webhookSecretContext(id)),
    );
    if (sealed.length > 0) {
      logger.info({ repositories: sealed, dataKey: dataKey.id }, "sealed webhook secrets stored in clear");
    }
    for (const repo of await store.pipelines.listRepositories()) {
      const keyId = repo.sealedWebhookSecret === null ? undefined : sealedKeyId(repo.sealedWebhookSecret);
      if (keyId !== dataKey.id) {
        logger.error(
          { repository: repo.name, sealedUnder: keyId ?? null, dataKey: dataKey.id },
          "this repository's webhook secret was sealed under another data key: its webhooks are refused " +
            "until that key is restored, or the repository is removed and added again",
        );
      }
    }
    if (serverUrl !== undefined) await this.#refreshHooks(serverUrl);
  }

  /**
   * Rewrites installed hooks whose URL is not this server's or whose token is not the stored one (a
   * hook from Slipway 0.1 holds the webhook secret instead): a new token, its hash stored first.
   */
  async #refreshHooks(serverUrl: string): Promise<void> {
    for (const repo of await this.#o.store.pipelines.listRepositories()) {
      if (repo.kind !== "path") continue;
      const installed = await readInstalledSender(repo.location);
      if (installed === undefined) continue;
      const current =
        installed.url === hookEndpoint(serverUrl, repo.id) &&
        installed.token !== undefined &&
        hookTokenMatches(repo.hookTokenHash, installed.token);
      if (current) continue;
      const hook = newHookToken();
      try {
        await this.#o.store.pipelines.setHookTokenHash(repo.id, hook.hash);
        await installHooks({ location: repo.location, repositoryId: repo.id, token: hook.token, serverUrl });
      } catch (err) {
        this.#o.logger.warn({ err, repository: repo.name }, "could not refresh the git hooks");
      }
    }
  }
}
