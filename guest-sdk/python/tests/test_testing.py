"""The test hooks (``wdo_testing``) against the real ``wdo`` binary ($WDO_BIN): an object
author's test as it would be written. Run from this directory with the SDK's virtual
environment: ``../.venv/bin/python -m unittest -v test_testing``."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testing"))

from wdo_testing import WdoError, start_wdo  # noqa: E402


class TestHooks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        out = os.environ.get("WDO_TEST_OUT_DIR") or os.path.join(tempfile.gettempdir(), "wdo-sdk-py-test")
        os.makedirs(out, exist_ok=True)
        component = os.path.join(out, "reminder-py.wasm")
        subprocess.run([sys.executable, os.path.join(HERE, "..", "build.py"), os.path.join(HERE, "reminder.py"),
                        "--class", "Reminder", "--out", component], check=True)
        cls.wdo = start_wdo(namespaces={"reminder": component})

    @classmethod
    def tearDownClass(cls):
        cls.wdo.stop()

    def seen(self, name):
        status, body = self.wdo.request("GET", f"/reminder/{name}/seen")
        self.assertEqual(status, 200, body)
        return json.loads(body)["byThisInstance"]

    def test_evict_gives_the_next_event_a_new_instance_and_keeps_storage(self):
        obj = self.wdo.object("reminder", "evicted")
        self.assertEqual(self.seen("evicted"), 1)
        self.assertEqual(self.seen("evicted"), 2)
        status, _ = self.wdo.request("POST", "/reminder/evicted/remind", {"text": "kept", "inMs": 3_600_000})
        self.assertEqual(status, 200)
        self.assertIs(obj.info()["live"], True)
        obj.evict()
        self.assertIs(obj.info()["live"], False)
        self.assertEqual(self.seen("evicted"), 1)
        self.assertEqual(obj.storage()["text"], "kept")

    def test_alarm_runs_now_and_its_writes_are_in_storage(self):
        obj = self.wdo.object("reminder", "alarmed")
        status, body = self.wdo.request("POST", "/reminder/alarmed/remind", {"text": "stand up", "inMs": 3_600_000})
        self.assertEqual(status, 200, body)
        self.assertEqual(obj.alarm(), json.loads(body)["scheduled"])
        self.assertTrue(obj.run_alarm())
        storage = obj.storage()
        self.assertEqual(list(storage), ["reminded", "text"])
        self.assertEqual(storage["reminded"], {"text": "stand up"})
        self.assertIsNone(obj.alarm())
        self.assertFalse(obj.run_alarm())
        self.assertEqual(list(obj.storage(prefix="rem")), ["reminded"])

    def test_an_object_that_never_ran_is_an_error_that_says_so(self):
        with self.assertRaisesRegex(WdoError, "404"):
            self.wdo.object("reminder", "never").storage()


if __name__ == "__main__":
    unittest.main()
