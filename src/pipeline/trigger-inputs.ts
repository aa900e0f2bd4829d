/**
 * A run's trigger fields and inputs, as pure functions: the ref a person names (branch or tag), the
 * declared inputs' defaults, and the inputs of a run started by hand checked against `on.manual.inputs`.
 */
import { SlipwayError } from "../util/index.js";
import type { PipelineSpec } from "./spec.js";
import type { InputValue } from "./trigger-types.js";

/** A ref as the trigger records it: `refs/heads/x` and a bare `x` are branches, `refs/tags/y` a tag. */
export function refFields(ref: string): { ref: string; branch: string | null; tag: string | null } {
  if (ref.startsWith("refs/heads/")) return { ref, branch: ref.slice(11), tag: null };
  if (ref.startsWith("refs/tags/")) return { ref, branch: null, tag: ref.slice(10) };
  if (ref.startsWith("refs/")) {
    throw new SlipwayError(
      "invalid_request",
      `ref ${ref} is neither a branch (refs/heads/…) nor a tag (refs/tags/…)`,
    );
  }
  return { ref: `refs/heads/${ref}`, branch: ref, tag: null };
}

type DeclaredInput = NonNullable<NonNullable<NonNullable<PipelineSpec["on"]>["manual"]>["inputs"]>[string];

/** Declared inputs' defaults, for runs nobody gave inputs to (pushes, schedules). */
export function defaultInputs(spec: PipelineSpec): Record<string, InputValue> {
  const out: Record<string, InputValue> = {};
  for (const [name, input] of Object.entries(spec.on?.manual?.inputs ?? {})) {
    const value = input.default;
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      out[name] = value;
    }
  }
  return out;
}

/**
 * The inputs of a run started by hand: each given value checked against its declaration (string,
 * boolean — also "true"/"false" —, number, choice among `options`), defaults filled in, required ones
 * demanded. An undeclared input is an error naming it.
 *
 * @throws SlipwayError("invalid_request") with `details: [{ input, message }]`.
 */
export function validateInputs(
  pipeline: string,
  declared: Record<string, DeclaredInput>,
  given: Record<string, InputValue>,
): Record<string, InputValue> {
  const errors: { input: string; message: string }[] = [];
  const out: Record<string, InputValue> = {};
  const names = Object.keys(declared);
  for (const [name, value] of Object.entries(given)) {
    const input = declared[name];
    if (input === undefined) {
      errors.push({
        input: name,
        message:
          names.length === 0
            ? `pipeline ${pipeline} takes no inputs`
            : `pipeline ${pipeline} has no input ${name}; its inputs are ${names.join(", ")}`,
      });
      continue;
    }
    const checked = checkInput(input, value);
    if (typeof checked === "object") errors.push({ input: name, message: checked.error });
    else out[name] = checked;
  }
  for (const [name, input] of Object.entries(declared)) {
    if (name in out || name in given) continue;
    const fallback = input.default;
    if (typeof fallback === "string" || typeof fallback === "number" || typeof fallback === "boolean") {
      out[name] = fallback;
    } else if (input.required === true) {
      errors.push({ input: name, message: `input ${name} is required` });
    }
  }
  const first = errors[0];
  if (first !== undefined) {
    const text =
      first.message.startsWith("input ") || first.message.startsWith("pipeline ")
        ? first.message
        : `input ${first.input}: ${first.message}`;
    throw new SlipwayError(
      "invalid_request",
      errors.length > 1 ? `${text} (and ${errors.length - 1} more)` : text,
      { details: errors },
    );
  }
  return out;
}

function checkInput(input: DeclaredInput, value: InputValue): InputValue | { error: string } {
  switch (input.type) {
    case "boolean":
      if (typeof value === "boolean") return value;
      if (value === "true" || value === "false") return value === "true";
      return { error: `expected true or false, got ${JSON.stringify(value)}` };
    case "number": {
      const n =
        typeof value === "number"
          ? value
          : typeof value === "string" && value.trim() !== ""
            ? Number(value)
            : NaN;
      return Number.isFinite(n) ? n : { error: `expected a number, got ${JSON.stringify(value)}` };
    }
    case "choice": {
      const text = String(value);
      const options = input.options ?? [];
      return options.includes(text)
        ? text
        : { error: `${JSON.stringify(text)} is not one of the options: ${options.join(", ")}` };
    }
    default:
      if (typeof value === "string") return value;
      return { error: `expected text, got ${JSON.stringify(value)}` };
  }
}
