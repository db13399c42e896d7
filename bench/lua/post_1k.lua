-- POST a 1 KiB body on every request (wrk adds Content-Length itself).
wrk.method = "POST"
wrk.body = string.rep("abcdefghijklmnop", 64)
wrk.headers["Content-Type"] = "application/octet-stream"
