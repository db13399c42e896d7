# frozen_string_literal: true

require_relative '../e2e/support/process_helpers'

# The .deb that `make package` makes: cpack runs on this build into a temp
# dir (about 5 s), then the package is read with dpkg-deb and unpacked, and
# the unpacked binary serves the unpacked example app from outside the source
# tree. Registered as packaging.deb_test (tests/CMakeLists.txt), Release only.
class DebPackageTest < Minitest::Test
  BUILD_DIR = ENV.fetch('HYPERION_BUILD_DIR') { File.dirname(E2E::BIN) }
  VERSION = File.read(File.join(E2E::ROOT, 'CMakeLists.txt'))[/project\(hyperion VERSION (\S+)/, 1]
  ARCH = `dpkg --print-architecture`.strip

  # One cpack run for the whole file.
  def self.package
    @package ||= begin
      dir = Dir.mktmpdir('hyperion-deb')
      Minitest.after_run { FileUtils.rm_rf(dir) }
      out, status = Open3.capture2e('cpack', '-G', 'DEB', '-B', dir, chdir: BUILD_DIR)
      raise "cpack failed (#{status.inspect}):\n#{out}" unless status.success?

      deb = File.join(dir, "hyperion_#{VERSION}_#{ARCH}.deb")
      raise "cpack made no #{File.basename(deb)}:\n#{out}\n#{Dir.children(dir)}" unless File.file?(deb)

      root = File.join(dir, 'root')
      system('dpkg-deb', '-x', deb, root, exception: true)
      system('dpkg-deb', '-e', deb, File.join(dir, 'control'), exception: true)
      { deb: deb, dir: dir, root: root, control: File.join(dir, 'control') }
    end
  end

  def deb = self.class.package[:deb]
  def root = self.class.package[:root]

  def field(name)
    out, status = Open3.capture2('dpkg-deb', '-f', deb, name)
    assert status.success?, "dpkg-deb -f #{name}"
    out.strip
  end

  # "a (>= 1), b | c" as ["a", "b", "c"].
  def depends_names = field('Depends').split(/[,|]/).map { |dep| dep.strip.split(/[ (]/).first }

  def run!(*cmd, **opts)
    out, status = Open3.capture2e(*cmd, **opts)
    assert status.success?, "#{cmd.join(' ')} failed (#{status.inspect}):\n#{out}"
    out
  end

  def test_control_fields
    assert_equal 'hyperion', field('Package')
    assert_equal VERSION, field('Version')
    assert_equal ARCH, field('Architecture')
    assert_match(/\A.+ <[^@\s]+@[^>\s]+>\z/, field('Maintainer'))
    assert_match(/\Aprefork Rack web server for Ruby/, field('Description'))
    assert_equal "/etc/default/hyperion\n", File.read(File.join(self.class.package[:control], 'conffiles'))
    %w[postinst prerm postrm].each do |script|
      path = File.join(self.class.package[:control], script)
      assert File.executable?(path), "#{script} is executable"
      run!('sh', '-n', path)
    end
  end

  # Every library the binary links is there, as its package (or a virtual
  # package that one provides, as libspdlog1.10 provides libspdlog1.10-fmt9);
  # what is only loaded at run time is there by name.
  def test_depends_cover_every_linked_library
    names = depends_names
    binary = File.join(root, 'usr/bin/hyperion')
    needed = run!('objdump', '-p', binary).scan(/^\s*NEEDED\s+(\S+)/).flatten
    paths = run!('ldd', binary).scan(%r{^\s*(\S+) => (/\S+)}).to_h
    assert_operator needed.size, :>=, 10
    needed.each do |soname|
      library = paths[soname]
      refute_nil library, "ldd does not resolve #{soname}"
      owner = [library, File.realpath(library)].uniq.filter_map do |path|
        out, status = Open3.capture2e('dpkg', '-S', path)
        out[/\A([^:,\s]+)/, 1] if status.success?
      end.first
      refute_nil owner, "no package owns #{library} (#{soname})"
      provides = `dpkg-query -W -f='${Provides}' #{owner}`.split(',').map { |p| p.strip.split(/[ (]/).first }
      refute_empty names & [owner, *provides], "#{library} (#{owner}) is not in Depends: #{field('Depends')}"
    end
    assert_includes names, 'ruby-rack', 'config.ru is loaded with Rack::Builder'
    assert_includes names, 'adduser', 'postinst creates the hyperion user'
  end

  def test_contents
    listing = run!('dpkg-deb', '-c', deb)
    paths = listing.lines.map { |line| line.split.last.delete_prefix('.') }
    %w[/usr/bin/hyperion /usr/share/man/man1/hyperion.1.gz /lib/systemd/system/hyperion.service
       /lib/systemd/system/hyperion.socket /etc/default/hyperion /usr/share/doc/hyperion/README.md
       /usr/share/doc/hyperion/docs/OPERATIONS.md /usr/share/doc/hyperion/examples/hello/config.ru
       /usr/share/doc/hyperion/examples/deploy/nginx.conf].each do |path|
      assert_includes paths, path
    end
    strays = paths.reject { |path| path.match?(%r{\A/(usr|lib|etc)(/|\z)}) || path == '/' }
    assert_empty strays, 'nothing outside /usr, /lib/systemd and /etc/default'
    assert File.executable?(File.join(root, 'usr/bin/hyperion'))
  end

  # The man page is the binary's --help: every flag it prints is in it.
  def test_man_page_has_every_flag_of_the_help
    page = run!('gzip', '-dc', File.join(root, 'usr/share/man/man1/hyperion.1.gz'))
    assert_match(/^\.TH HYPERION 1 "[\d-]+" "hyperion #{Regexp.escape(VERSION)}"/, page)
    help = run!(E2E::BIN, '--help')
    help += run!(E2E::BIN, 'ctl', '--help') if help.include?('hyperion ctl')
    flags = help.scan(/(?<![\w-])--?[A-Za-z0-9][a-z0-9-]*/).uniq
    assert_operator flags.size, :>, 40
    missing = flags.reject { |flag| page.include?(flag.gsub('-', '\\-')) }
    assert_empty missing, 'flags of --help missing from hyperion(1)'
    _out, warnings, status = Open3.capture3('groff', '-man', '-Tutf8', '-ww', '-z', stdin_data: page)
    assert status.success?
    assert_empty warnings, 'groff has no warnings about the page'
  end

  # With ExecStart pointed at the unpacked binary (systemd checks that it
  # exists), the units pass `systemd-analyze verify` without a word.
  def test_units_verify
    dir = Dir.mktmpdir('hyperion-units', self.class.package[:dir])
    units = File.join(root, 'lib/systemd/system')
    File.write(File.join(dir, 'hyperion.service'),
               File.read(File.join(units, 'hyperion.service')).gsub('/usr/bin/hyperion', File.join(root, 'usr/bin/hyperion')))
    FileUtils.cp(File.join(units, 'hyperion.socket'), dir)
    out, status = Open3.capture2e('systemd-analyze', 'verify', '--man=no',
                                  File.join(dir, 'hyperion.service'), File.join(dir, 'hyperion.socket'))
    assert status.success?, out
    assert_empty out
  end

  # The unpacked binary needs neither the source tree nor the build: they are
  # hidden under an empty tmpfs (a private mount namespace) when this runs as
  # root, and the app is the package's own example, in a dir outside the repo.
  def test_unpacked_binary_serves_an_app_outside_the_tree
    app = Dir.mktmpdir('hyperion-app', self.class.package[:dir])
    FileUtils.cp(File.join(root, 'usr/share/doc/hyperion/examples/hello/config.ru'), app)
    binary = File.join(root, 'usr/bin/hyperion')
    assert_equal "hyperion #{VERSION}\n", run!(binary, '--version', chdir: app)

    log = File.join(app, 'server.log')
    argv = [binary, '-w', '1', '-t', '2', '-b', 'tcp://127.0.0.1:0', 'config.ru']
    hide = Process.uid.zero? && system('unshare', '--mount', 'true', err: File::NULL)
    cmd = if hide
            ['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
             'mount -t tmpfs hidden "$0" && [ ! -e "$0/CMakeLists.txt" ] && exec "$@"', E2E::ROOT, *argv]
          else
            argv
          end
    pid = Process.spawn(*cmd, chdir: app, out: log, err: %i[child out])
    begin
      port = nil
      deadline = Time.now + 20
      until (port = File.read(log)[%r{Listening on http://127\.0\.0\.1:(\d+)}, 1]) && File.read(log).include?('ready')
        flunk "not serving after 20 s:\n#{File.read(log)}" if Time.now > deadline || Process.waitpid(pid, Process::WNOHANG)
        sleep 0.05
      end
      response = Net::HTTP.get_response(URI("http://127.0.0.1:#{port}/"))
      assert_equal '200', response.code
      assert_equal "Hello from Hyperion\n", response.body
      Process.kill('TERM', pid)
      _, status = Process.waitpid2(pid)
      pid = nil
      assert status.success?, "exit #{status.inspect}:\n#{File.read(log)}"
      assert_match(/master exiting/, File.read(log))
      assert_empty E2E.crash_lines(File.read(log))
    ensure
      if pid
        Process.kill('KILL', pid)
        Process.waitpid(pid)
      end
    end
    skip 'not root: ran with the source tree visible' unless hide
  end
end
