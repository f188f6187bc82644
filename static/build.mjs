// Builds static/build/: Panel's CSS (GOV.UK Frontend Sass compiled with Arial) and GOV.UK Frontend's JS.
import { compile } from "sass";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";

const out = "static/build";
mkdirSync(`${out}/assets/images`, { recursive: true });
const result = compile("static/src/panel.scss", {
  loadPaths: ["node_modules"],
  style: "compressed",
  quietDeps: true,
});
writeFileSync(`${out}/panel.css`, result.css);
const gf = "node_modules/govuk-frontend/dist/govuk";
cpSync(`${gf}/govuk-frontend.min.js`, `${out}/govuk-frontend.min.js`);
cpSync(`${gf}/assets/images/govuk-icon-mask.svg`, `${out}/assets/images/icon-mask.svg`);
console.log(`built ${out}/panel.css (${result.css.length} bytes) and govuk-frontend.min.js`);
