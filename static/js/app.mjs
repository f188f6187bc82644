// Starts GOV.UK Frontend's components (error summary focus, password reveal, character count...).
import { initAll } from "/static/build/govuk-frontend.min.js";
initAll();
