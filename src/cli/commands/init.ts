import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { Command } from "commander";
import { SlipwayError } from "../../util/index.js";
import { UsageError } from "../options.js";
import type { CliContext } from "../context.js";
import { examplePackageJson, exampleServerJs, slipwayYamlTemplate } from "../templates.js";

/** Scaffolds slipway.yaml and an example service; never overwrites without --force. */
export function registerInit(program: Command, ctx: CliContext): void {
  program
    .command("init")
    .description("scaffold a commented slipway.yaml and an example service")
    .argument("[dir]", "project directory", ".")
    .option("--project <name>", "project name (default: the directory's name)")
    .option("--force", "overwrite existing files")
    .action(async (dir: string, options: { project?: string; force?: boolean }) => {
      const root = resolve(ctx.cwd, dir);
      const project = options.project ?? toProjectName(basename(root));
      if (!/^[a-z][a-z0-9-]{0,62}$/.test(project)) {
        throw new UsageError(
          `${options.project === undefined ? "the directory's name" : "--project"}: expected a project name ` +
            `(lowercase letters, digits and dashes, starting with a letter); found ${JSON.stringify(project)}`,
          "name it: --project shop",
        );
      }
      const files: [string, string][] = [
        [join(root, "slipway.yaml"), slipwayYamlTemplate(project)],
        [join(root, "web", "server.js"), exampleServerJs],
        [join(root, "web", "package.json"), examplePackageJson],
      ];
      const existing = files.map(([path]) => path).filter((path) => existsSync(path));
      if (existing.length > 0 && options.force !== true) {
        throw new SlipwayError(
          "already_exists",
          `${existing.join(", ")} already exist(s); nothing was written`,
          {
            hint: "use --force to overwrite",
          },
        );
      }
      await mkdir(join(root, "web"), { recursive: true });
      for (const [path, content] of files) await writeFile(path, content);
      ctx.output.out(
        `Created ${files.map(([p]) => p.replace(`${root}/`, "")).join(", ")} for project ${project}.`,
      );
      ctx.output.out("Next: slipway validate && slipway up");
    });
}

function toProjectName(name: string): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, 63);
  return cleaned === "" ? "app" : cleaned.replace(/-+$/, "");
}
