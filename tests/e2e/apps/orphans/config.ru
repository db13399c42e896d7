# frozen_string_literal: true

# For tests/e2e/pid1_test.rb, which runs the server as PID 1 of a new pid
# namespace: orphans made on request, and Kernel#system.
run(lambda do |env|
  case env['PATH_INFO']
  when '/orphan'
    # sh starts `sleep` in the background (its stdout not on our pipe, so the
    # read ends when sh exits), prints its pid and exits: the sleep is orphaned
    # and the kernel re-parents it to PID 1, which must reap it when it exits.
    # sh is this process's own child, reaped here by polling (Process.wait
    # would block in a worker; see the system test).
    reader, writer = IO.pipe
    sh = Process.spawn('sh', '-c', 'sleep 1 >/dev/null & echo $!', out: writer)
    writer.close
    orphan = reader.read.strip
    reader.close
    deadline = Time.now + 5
    sleep 0.01 until Process.waitpid(sh, Process::WNOHANG) || Time.now > deadline
    [200, { 'content-type' => 'text/plain' }, [orphan]]
  when '/system'
    # A child that outlives the start of the wait: one that exits at once is
    # sometimes reaped before Ruby waits, which would hide a wait that hangs.
    [200, { 'content-type' => 'text/plain' }, [system('sleep', '0.2').inspect]]
  when '/slow'
    sleep 1
    [200, { 'content-type' => 'text/plain' }, ["slow done by #{Process.pid}"]]
  else
    [200, { 'content-type' => 'text/plain' }, [Process.pid.to_s]]
  end
end)
