"""설정: the rule thresholds; team leads edit them, admins read them."""

from dashboard.ui.auth import require_page
from dashboard.ui.components import page_header
from dashboard.ui.settings_page import settings_view

user = require_page("settings")  # writes the rules file: re-check the role, not just the menu
page_header("page.settings", "settings_page.caption")
settings_view(user)
