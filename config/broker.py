"""kombu's filesystem transport, with messages written atomically.

The stock transport creates the message file, then locks and writes it; a consumer in
another process may move and read the file in between, find it empty, and die with
"Unrecoverable error: JSONDecodeError". Here a message is written to a hidden temporary
name (which consumers skip) and renamed into place, so a consumer sees whole files only.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A leading dot: `_get` only takes names whose part after the first dot is
        # "<queue>.msg", which this one's is not.
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
