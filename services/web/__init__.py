"""The HTTP/JSON gateway and the web page: `vrs serve --service web`, or part of `vrs serve`."""
