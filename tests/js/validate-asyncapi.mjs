// Validates an AsyncAPI document with the AsyncAPI parser (the reference implementation):
// prints its diagnostics as JSON and exits 1 if any is an error.
//   node validate-asyncapi.mjs docs/asyncapi.json
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const text = readFileSync(process.argv[2], "utf8");
const { document, diagnostics } = await new Parser().parse(text);
const errors = diagnostics.filter((d) => d.severity === 0);
console.log(JSON.stringify({
  valid: document !== undefined && errors.length === 0,
  errors: errors.map((d) => ({ code: d.code, message: d.message, path: d.path.join(".") })),
  messages: document ? document.allMessages().length : 0,
  operations: document ? document.allOperations().length : 0,
}));
process.exit(errors.length === 0 && document !== undefined ? 0 : 1);
