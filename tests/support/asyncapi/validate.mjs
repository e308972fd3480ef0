// Validates an AsyncAPI document with the AsyncAPI Initiative's parser (@asyncapi/parser): the AsyncAPI
// JSON Schema of its version, then the parser's rules (references resolve, ids unique, examples match
// their payloads ...). Prints the diagnostics as JSON lines; exit 1 when any is an error or a warning.
//   node validate.mjs ../../../schemas/asyncapi.yaml
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";

const SEVERITY = ["error", "warning", "info", "hint"];
const file = process.argv[2];
const parser = new Parser();
const { document, diagnostics } = await parser.parse(await readFile(file, "utf8"), { source: file });
let failed = document === undefined;
for (const d of diagnostics) {
  const severity = SEVERITY[d.severity] ?? String(d.severity);
  if (severity === "error" || severity === "warning") failed = true;
  console.log(JSON.stringify({ severity, code: d.code, message: d.message, path: d.path.join("/") }));
}
if (document !== undefined) console.log(JSON.stringify({ version: document.version(), channels: document.channels().length }));
process.exit(failed ? 1 : 0);
