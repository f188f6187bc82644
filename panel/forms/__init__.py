"""The shared form layer: fields, validators, the text kit and service errors. Imports no feature;
import from the submodules (panel.forms.fields, panel.forms.text, ...)."""
