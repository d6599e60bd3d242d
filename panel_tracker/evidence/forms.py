from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import FloatField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..formutil import IsoDateField, options


class UploadForm(FlaskForm):
    files = MultipleFileField("Photos", validators=[DataRequired(message="Choose one or more photos.")],
                              description="JPEG, PNG, HEIC, TIFF or WebP; several at once",
                              render_kw={"accept": "image/*,.heic,.heif,.tif,.tiff"})
    item_id = SelectField("Item shown", default="", choices=[])
    source = StringField("Received from", validators=[Length(max=300)],
                         description="e.g. Panel inspection; Member State; open source")
    is_original = RadioField("The files are", choices=options([("yes", "originals (straight from the camera)"),
                                                               ("no", "copies (e.g. forwarded by a messaging app)")]),
                             default="yes")
    caption = TextAreaField("Caption")
    source_line = StringField("Source line", validators=[Length(max=300)], description="e.g. Source: Panel, 12 March 2024")
    photographer = StringField("Photographer", validators=[Length(max=200)])


class PhotoForm(FlaskForm):
    item_id = SelectField("Item shown", default="", choices=[])
    caption = TextAreaField("Caption")
    source_line = StringField("Source line", validators=[Length(max=300)])
    photographer = StringField("Photographer", validators=[Length(max=200)])
    photo_date = IsoDateField("Date of the photo", validators=[Optional()])


class PurgeForm(FlaskForm):
    reason = StringField("Why must the bytes be destroyed?", validators=[DataRequired(), Length(max=500)])


class MarkingPhotoForm(FlaskForm):
    """On the item page, under a marking: the photo that shows it, and an optional box."""
    photo_id = SelectField("Photo", coerce=int, choices=[])
    box_x = FloatField("x", validators=[Optional()])
    box_y = FloatField("y", validators=[Optional()])
    box_w = FloatField("width", validators=[Optional()])
    box_h = FloatField("height", validators=[Optional()])
