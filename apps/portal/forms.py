"""Forms of the portal's pages: each bad input gets a message next to its field."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import User


class AskForm(forms.Form):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Built per form so the limit follows settings (and override_settings in tests).
        self.fields["question"] = forms.CharField(
            label=_("Your question"),
            max_length=settings.ANSWER_MAX_QUESTION_CHARS,
            widget=forms.Textarea(attrs={"rows": 3, "autofocus": True}),
        )
        # The thread a follow-up continues (set by the page once an answer arrives).
        self.fields["conversation_id"] = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class FeedbackForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("Was this answer helpful?"),
        choices=[("1", _("Helpful")), ("-1", _("Not helpful"))],
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class DocumentSearchForm(forms.Form):
    q = forms.CharField(label=_("Search documents"), required=False, max_length=200, strip=True)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (the pattern of Django's documentation)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple) and data:
            return [single(item, initial) for item in data]
        return [single(data or None, initial)]  # nothing chosen: the usual "required" error


class UploadForm(forms.Form):
    # Not "files": that is the form's own attribute for the request's uploaded files.
    uploads = MultipleFileField(label=_("Files"), help_text=_("PDF, Word, text, Markdown, HTML, CSV or JSON."))
    visible_to_tenant = forms.BooleanField(label=_("Everyone in the company may view these documents"), required=False)

    def clean_uploads(self) -> list:
        files = self.cleaned_data["uploads"]
        limit = settings.PORTAL_UPLOAD_MAX_FILES
        if len(files) > limit:
            raise ValidationError(_("Upload at most %(limit)s files at once."), params={"limit": limit})
        size_limit = settings.INGESTION_MAX_UPLOAD_BYTES
        for upload in files:
            if upload.size > size_limit:
                raise ValidationError(
                    _("%(name)s is larger than %(limit)s MB."),
                    params={"name": upload.name, "limit": size_limit // 1_048_576},
                )
        return files


class AccessChangeForm(forms.Form):
    """Grant or revoke viewing for one user or group, named the way people know them."""

    GRANT, REVOKE = "grant", "revoke"

    action = forms.ChoiceField(choices=[(GRANT, _("Grant")), (REVOKE, _("Revoke"))], widget=forms.HiddenInput)
    kind = forms.ChoiceField(label=_("Who"), choices=[("user", _("User")), ("group", _("Group"))])
    name = forms.CharField(label=_("User name or group name"), max_length=150, strip=True)

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        kind, name = data.get("kind"), data.get("name")
        if not kind or not name:
            return data
        if kind == "user":
            data["principal"] = User.objects.filter(username=name, is_active=True).first()
            missing = _("There is no active user named %(name)s.")
        else:
            data["principal"] = Group.objects.filter(name=name).first()
            missing = _("There is no group named %(name)s.")
        if data["principal"] is None:
            self.add_error("name", ValidationError(missing, params={"name": name}))
        return data
