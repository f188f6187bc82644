"""Referral API tokens: the list (agency, label, prefix, created, last used, revoked) and revoking one.

Tokens are created on the command line (`flask --app wsgi panel api-token create --agency CODE`),
which prints the token once; this page never shows a token, only its first characters.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from panel.admin import bp
from panel.admin.forms import ConfirmForm
from panel.extensions import db
from panel.models import ApiToken
from panel.referrals import tokens


@bp.route("/api-tokens")
def list_api_tokens():
    return render_template("admin/api_tokens.html", rows=tokens.list_tokens())


@bp.route("/api-tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_api_token(token_id: int):
    row = db.get_or_404(ApiToken, token_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        if tokens.revoke_token(row, by=current_user._get_current_object()):
            db.session.commit()
            flash(f"The API token {row.prefix}… for {row.agency.name} is revoked. Calls with it are refused "
                  "from now on.", "success")
        else:
            flash(f"The API token {row.prefix}… was already revoked.", "info")
    return redirect(url_for("admin.list_api_tokens"))
