"""SigVerify for clerks and ML staff: `streamlit run interface/app.py`.

Talks to the REST API only (base URL from SIGVERIFY_API_URL). The token lives in this
session's state; the menu holds only the pages the permissions `/auth/me/` lists allow.
"""

from __future__ import annotations

import logging

import streamlit as st

import ui_common as ui
from api_client import ApiError, AuthError, base_url_from_env
from api_models import Me

log = logging.getLogger("sigverify.interface")

st.set_page_config(page_title="SigVerify", page_icon=":material/draw:", layout="wide")


def load_user() -> Me | None:
    """Who is logged in (cached in this session); None when the token is no longer valid."""
    if st.session_state.get("me"):
        return st.session_state["me"]
    try:
        me = ui.api().me()
    except AuthError:
        ui.end_session()
        return None
    except ApiError as error:
        ui.show_error(error, "Cannot check who is logged in")
        st.stop()
    st.session_state["me"] = me
    return me


def log_out() -> None:
    try:
        ui.api().logout()
    except ApiError as error:  # the session ends here either way
        log.info("logout call failed: %s", error)
    ui.end_session()


def sidebar(me: Me) -> None:
    with st.sidebar:
        st.markdown(f"**{me.username}**")
        st.caption(", ".join(me.roles) or "no role")
        if st.button("Log out", icon=":material/logout:", key="logout"):
            log_out()
            st.rerun()
        st.caption(f"API: {base_url_from_env()}")


def main() -> None:
    me = load_user() if st.session_state.get("token") else None
    if me is None:
        page = st.navigation(
            [st.Page("app_pages/login.py", title="Log in", icon=":material/login:")], position="hidden"
        )
    else:
        allowed = ui.allowed_pages(me.permissions)
        if not allowed:
            sidebar(me)
            st.navigation([st.Page(lambda: None, title="No access", url_path="no-access")], position="hidden")
            st.warning("Your account holds none of the permissions this interface's pages need. Ask an administrator.")
            return
        page = st.navigation([st.Page(path, title=ui.PAGES[path][0], icon=ui.PAGES[path][1]) for path in allowed])
        sidebar(me)
    try:
        page.run()
    except ApiError as error:  # pages catch their own; this is the net under them
        ui.show_error(error)
    except Exception:  # noqa: BLE001 -- a clerk must never see a traceback
        log.exception("page %s failed", page.title)
        st.error("Something went wrong in this page. Please try again; if it keeps happening, call support.")


main()
