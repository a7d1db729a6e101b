import time
from streamlit.testing.v1 import AppTest
from tests.app.ui.conftest import MAIN

def test_smoke(app):
    at = app
    print("warnings", [w.value for w in at.warning])
    print("errors", [e.value for e in at.error])
    print("selectbox", [s.label for s in at.selectbox], [s.value for s in at.selectbox])
    t=time.time()
    at.chat_input[0].set_value("When was warfarin started for atrial fibrillation?").run()
    print("ask took", time.time()-t)
    assert not at.exception, at.exception
    print("errors", [e.value for e in at.error])
    print("markdown", [m.value[:100] for m in at.markdown])
    print("buttons", [b.label for b in at.button])
    print("html", len(at.get("html")))
    cite = [b for b in at.button if b.key and b.key.startswith("cite-")]
    cite[0].click().run()
    assert not at.exception, at.exception
    h = [x for x in at.get("html") if "<mark" in x.proto.body]
    print("marks", len(h), h[0].proto.body[-600:] if h else None)
    print("expanders", [e.label for e in at.expander])
