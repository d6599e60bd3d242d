from flask import Blueprint
bp = Blueprint("traces", __name__, url_prefix="/traces")
