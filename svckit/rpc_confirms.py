"""Publisher confirms of one RPC call's requests (svckit.rpc_client), awaited alongside its
answer, never before it.

A request published without confirms to a quorum queue while the queue has no leader (its
node stopped, an election under way) can be dropped by the broker without a word: the
channel cannot queue it (`reject_publish`), and only a channel in confirm mode is told
(basic.nack). The client's channel is in confirm mode, so a refused request is known at once
and sent again (on a fresh channel), and a call none of whose requests was queued can say
it was not applied. Confirms are not waited for: the answer usually comes with or before
them, so the call costs no extra round trip.
"""


class SendConfirms:
    """The delivery tags of one channel's publishes (counted from 1 when it opens) and what
    the broker said of the current call's: `pending` (neither confirmed nor refused yet),
    `refused` (how many it nacked), `fresh_refusal` (a nack not yet acted upon)."""

    def __init__(self):
        self.tag = 0
        self.pending: set[int] = set()
        self.refused = 0
        self.fresh_refusal = False

    def channel_opened(self):
        """A new channel in confirm mode: tags count from 1 again; the old channel's
        pending sends will never be confirmed on it."""
        self.tag = 0
        self.pending = set()

    def new_call(self):
        """Forget earlier calls' sends (a late confirm of theirs is ignored)."""
        self.pending = set()
        self.refused = 0
        self.fresh_refusal = False

    def sent(self):
        self.tag += 1
        self.pending.add(self.tag)

    def _settle(self, tag: int, multiple: bool) -> int:
        done = {t for t in self.pending if t <= tag} if multiple else {tag} & self.pending
        self.pending -= done
        return len(done)

    def on_ack(self, tag: int, multiple: bool):
        self._settle(tag, multiple)

    def on_nack(self, tag: int, multiple: bool):
        refused = self._settle(tag, multiple)
        if refused:
            self.refused += refused
            self.fresh_refusal = True

    def all_refused(self, sends: int) -> bool:
        """Every one of the call's `sends` was refused: none was queued."""
        return sends > 0 and self.refused >= sends
