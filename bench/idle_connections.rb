# frozen_string_literal: true

# Holds COUNT idle connections open to a server for bench/h2.sh's memory
# figure: h2 ones have sent the client preface and SETTINGS and read the
# server's SETTINGS; h1 ones have made one keep-alive request. Touches
# READY_FILE once all are open, then sleeps until killed.
#   ruby bench/idle_connections.rb PORT COUNT h1|h2 READY_FILE
require 'socket'

port, count, kind, ready = ARGV
Process.setrlimit(:NOFILE, 4096) rescue nil
sockets = Array.new(count.to_i) do
  s = TCPSocket.new('127.0.0.1', port.to_i)
  if kind == 'h2'
    s.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".b + [0, 0, 4, 0, 0].pack('CnCCN'))
  else
    s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
  end
  s.readpartial(4096) # the server's SETTINGS, or the response
  s
end
File.write(ready, sockets.size.to_s)
sleep
