"""The sample action plugin InvenTree ships (`simple`); active only when INVENTREE_PLUGINS
lists `simpleaction`."""


class SimpleActionPlugin:
    NAME = "SimpleActionPlugin"
    SLUG = "simpleaction"
    VERSION = "0.1.0"
    ACTION_NAME = "simple"

    def perform_action(self, user=None, data=None):
        self.performed_for = getattr(user, "username", None)

    def get_result(self, user=None, data=None):
        return True

    def get_info(self, user=None, data=None):
        return {"user": getattr(user, "username", None), "hello": "world"}
