// Loaded at the top of <body>: marks the page as having JavaScript, as GOV.UK Frontend expects.
// A file rather than an inline script, so the Content-Security-Policy can forbid inline script.
document.body.className += " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");
