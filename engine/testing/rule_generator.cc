#include "engine/testing/rule_generator.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include <fmt/format.h>

namespace vigil::engine::testing {
namespace {

using content::AtomOp;
using content::Instr;
using content::OpCode;

template <typename T>
const T& Pick(std::mt19937_64& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}
size_t Uniform(std::mt19937_64& rng, size_t lo, size_t hi) {  // inclusive
  return std::uniform_int_distribution<size_t>(lo, hi)(rng);
}
bool Chance(std::mt19937_64& rng, double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

FieldIndex FieldOf(const Schema& schema, EventTypeId type, std::string_view name) {
  auto f = schema.FindField(type, name);
  if (!f) std::abort();  // a generator bug: the builtin schema has these names
  return *f;
}
EventTypeId TypeOf(const Schema& schema, std::string_view name) {
  auto t = schema.FindEventType(name);
  if (!t) std::abort();
  return *t;
}

// ---------------------------------------------------------------------------
// Random rules over a tiny vocabulary (differential testing).

const std::vector<std::string> kTokens = {
    "a", "A", "ab", "aB", "abc", "aa", "aaa", "b", "bash", "BaSh", "/usr/bin/", "/tmp/", "-c",
    "x y", "*", "?", "\\", "\xc3\xa9", "10.0.0.1", "::1", "curl", "ab\nc", "K", "\xe2\x84\xaa"};
const std::vector<std::string> kRegexes = {
    "^a", "c$", "a.c", "a\\nc", "^c", "(?i)BASH", "bash|curl", "[0-9]+\\.[0-9]", "x\\s+y",
    "^/usr", "a{2,}", "\xc3\xa9", "ab", "k", "(?i)k", "b$", "^$", "[a-c]b"};
const std::vector<std::string> kNetworks = {
    "10.0.0.0/8",  "10.0.0.0/24", "10.0.0.1",  "192.168.0.0/16", "0.0.0.0/0",
    "::/0",        "::1/128",     "fe80::/10", "2001:db8::/32",  "10.0.0.0/31"};
const std::vector<std::string> kAddresses = {
    "10.0.0.1", "10.0.1.7", "192.168.1.5", "8.8.8.8", "::1", "fe80::1", "2001:db8::5",
    "not-an-ip", "", "10.0.0.1 ", "::ffff:10.0.0.1"};

std::string RandomText(std::mt19937_64& rng) {
  std::string s;
  for (size_t i = 0, n = Uniform(rng, 0, 3); i < n; ++i) s += Pick(rng, kTokens);
  return s;
}

std::string RandomLiteral(std::mt19937_64& rng) {
  if (Chance(rng, 0.05)) return "";
  std::string s = Pick(rng, kTokens);
  if (Chance(rng, 0.3)) s += Pick(rng, kTokens);
  if (s.size() > 1 && Chance(rng, 0.3)) {
    size_t from = Uniform(rng, 0, s.size() - 1);
    s = s.substr(from, Uniform(rng, 1, s.size() - from));
  }
  return s;
}

std::string RandomGlob(std::mt19937_64& rng) {
  static const std::vector<std::string> kParts = {"*", "?", "\\*", "\\?", "\\\\", "\\a", "**"};
  std::string g;
  for (size_t i = 0, n = Uniform(rng, 1, 4); i < n; ++i) {
    g += Chance(rng, 0.5) ? Pick(rng, kParts) : Pick(rng, kTokens);
  }
  if (Chance(rng, 0.05)) g += "\\";  // trailing lone backslash
  return g;
}

content::Atom RandomAtom(std::mt19937_64& rng, const Schema& schema, EventTypeId type) {
  const auto& fields = schema.event_type(type).fields;
  content::Atom a;
  a.op = static_cast<AtomOp>(Uniform(rng, 0, content::kAtomOpCount - 1));
  // Text ops dominate real content; weight them up.
  if (Chance(rng, 0.4)) a.op = static_cast<AtomOp>(Uniform(rng, 0, 3));
  a.field = static_cast<FieldIndex>(Uniform(rng, 0, fields.size() - 1));
  const bool text_op = a.op <= AtomOp::kRegex;
  if (Chance(rng, text_op ? 0.12 : 0.03)) a.field = content::kAnyField;
  if (a.field != content::kAnyField) a.field_name = fields[a.field].name;
  switch (a.op) {
    case AtomOp::kEquals:
    case AtomOp::kContains:
    case AtomOp::kStartsWith:
    case AtomOp::kEndsWith:
      a.value = Chance(rng, 0.2) ? RandomText(rng) : RandomLiteral(rng);
      if (Chance(rng, 0.3)) a.flags = content::kCased;
      break;
    case AtomOp::kGlob:
      a.value = RandomGlob(rng);
      if (Chance(rng, 0.3)) a.flags = content::kCased;
      break;
    case AtomOp::kRegex:
      a.value = Pick(rng, kRegexes);
      a.flags = static_cast<uint8_t>(Uniform(rng, 0, 7) << 1);  // kRegexI/M/S
      break;
    case AtomOp::kCidr: a.value = Pick(rng, kNetworks); break;
    case AtomOp::kNumEq:
    case AtomOp::kNumLt:
    case AtomOp::kNumLte:
    case AtomOp::kNumGt:
    case AtomOp::kNumGte: a.number = static_cast<int64_t>(Uniform(rng, 0, 6)) - 2; break;
    case AtomOp::kFieldRef:
      a.ref_field = static_cast<FieldIndex>(Uniform(rng, 0, fields.size() - 1));
      a.ref_field_name = fields[a.ref_field].name;
      if (Chance(rng, 0.3)) a.flags = content::kCased;
      break;
    default: break;
  }
  return a;
}

void RandomProgram(std::mt19937_64& rng, size_t atoms, int depth, std::vector<Instr>& out) {
  if (depth == 0 || Chance(rng, 0.3)) {
    if (Chance(rng, 0.05)) {
      out.push_back({Chance(rng, 0.5) ? OpCode::kTrue : OpCode::kFalse, 0, 0});
    } else {
      out.push_back({OpCode::kAtom, static_cast<uint32_t>(Uniform(rng, 0, atoms - 1)), 0});
    }
    return;
  }
  const size_t kind = Uniform(rng, 0, 9);
  if (kind < 2) {
    RandomProgram(rng, atoms, depth - 1, out);
    out.push_back({OpCode::kNot, 0, 0});
    return;
  }
  const uint32_t n = static_cast<uint32_t>(Uniform(rng, 2, 6));
  for (uint32_t i = 0; i < n; ++i) RandomProgram(rng, atoms, depth - 1, out);
  if (kind < 5) {
    out.push_back({OpCode::kAnd, n, 0});
  } else if (kind < 8) {
    out.push_back({OpCode::kOr, n, 0});
  } else {
    out.push_back({OpCode::kAtLeast, n, static_cast<uint32_t>(Uniform(rng, 1, n))});
  }
}

const char* OpName(AtomOp op) {
  static const char* kNames[] = {"equals", "contains", "startswith", "endswith", "glob",
                                 "regex",  "cidr",     "num==",      "num<",     "num<=",
                                 "num>",   "num>=",    "exists",     "fieldref", "null"};
  return kNames[static_cast<size_t>(op)];
}

// ---------------------------------------------------------------------------
// Realistic vocabulary (benchmarks).

const std::vector<std::string> kTools = {
    "nc", "ncat", "netcat", "socat", "curl", "wget", "base64", "xxd", "openssl", "python",
    "python3", "perl", "ruby", "php", "lua", "node", "bash", "sh", "dash", "zsh", "ksh",
    "busybox", "chmod", "chown", "chattr", "setfacl", "useradd", "usermod", "userdel", "passwd",
    "chpasswd", "groupadd", "crontab", "at", "systemctl", "service", "iptables", "ip6tables",
    "ufw", "nft", "firewall-cmd", "ifconfig", "ss", "netstat", "lsof", "pkill", "killall",
    "nohup", "screen", "tmux", "ssh", "scp", "sftp", "rsync", "sshpass", "dd", "mkfifo", "mknod",
    "insmod", "rmmod", "modprobe", "dmesg", "journalctl", "auditctl", "setenforce", "shred",
    "wipe", "find", "xargs", "awk", "gawk", "sed", "vim", "env", "docker", "kubectl", "podman",
    "mount", "losetup", "tar", "zip", "unzip", "7z", "gpg", "ldd", "strace", "ltrace", "gdb",
    "tcpdump", "tshark", "nmap", "masscan", "hping3", "telnet", "ftp", "tftp", "whoami", "id",
    "hostname", "uname", "last", "getent", "sudo", "su", "pkexec", "doas", "capsh", "setcap",
    "getcap", "git", "pip", "pip3", "npm", "apt", "apt-get", "dpkg", "yum", "rpm", "snap",
    "chroot", "unshare", "nsenter", "tee", "file", "strings", "od", "hexdump", "objdump",
    "readelf", "gcc", "java", "mysql", "psql", "sqlite3", "redis-cli", "bpftrace", "bpftool",
    "kmod", "sysctl", "swapoff", "wall", "shutdown", "logger", "runuser", "setsid", "timeout",
    "base32", "uudecode", "xclip", "xdotool", "pwsh", "sqlmap", "hydra", "john", "hashcat",
    "linpeas.sh", "pspy64", "chisel", "frpc", "ngrok", "proxychains4", "torsocks", "iodine",
    "dnscat2", "cpulimit", "xmrig", "minerd", "lsmod", "vmstat", "dig", "nslookup", "host",
    "arp", "route", "traceroute", "ping", "aria2c", "lftp", "smbclient", "rpcclient",
    "ldapsearch", "kinit", "klist", "showmount", "exportfs", "gsettings", "dconf", "xhost",
    "Xvfb", "vncserver", "x11vnc", "setfattr", "getfattr", "tune2fs", "debugfs", "mkswap"};
// Tools with hardly any benign use: a rule may flag their mere execution.
const std::vector<std::string> kHackTools = {
    "nmap", "masscan", "hping3", "hydra", "john", "hashcat", "sqlmap", "linpeas.sh", "pspy64",
    "chisel", "frpc", "ngrok", "proxychains4", "torsocks", "iodine", "dnscat2", "xmrig", "minerd",
    "socat", "ncat", "netcat", "sshpass", "mimipenguin", "LaZagne", "bettercap", "responder",
    "crackmapexec", "nuclei", "gobuster", "ffuf", "nikto", "wpscan", "msfconsole", "msfvenom",
    "sliver-client", "merlin-agent", "pwncat", "evil-winrm", "kerbrute", "impacket-secretsdump"};
const std::vector<std::string> kArgs = {
    " -e /bin/sh", " -e /bin/bash", " -d", " --decode", " -lvp ", " -nlvp ", " -w ",
    " --output-document", " -O /tmp/", " | sh", " | bash", "/dev/tcp/", "/dev/udp/", " +x ",
    " u+s ", " 4755 ", " 777 ", " --no-check-certificate", " --insecure", "/etc/shadow",
    "/etc/passwd", "/etc/sudoers", "/root/.ssh/authorized_keys", ".bash_history",
    "/var/log/auth.log", "/var/log/syslog", " --delete", " -rf /", " --reverse", "import pty",
    "pty.spawn", "socket.socket", "os.dup2", "subprocess.call", "eval(", "LD_PRELOAD=",
    "/proc/self/", "/proc/1/", "--privileged", " -v /:/host", "setuid", "CAP_SYS_ADMIN",
    "0.0.0.0", "ProxyCommand", "StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null",
    "PermitRootLogin", " /dev/shm/", "/tmp/.", "chmod +x", " --recursive", " --force",
    " --script", " -sV", " -sS", " -p-", "--wordlist", "mkfifo /tmp/", "0<&196", "exec 196<>",
    "/bin/sh -i", ">& /dev/tcp", "nohup ", "history -c", "unset HISTFILE", "HISTSIZE=0",
    "HISTFILE=/dev/null", "shred -u", "--remove", "iptables -F", "ufw disable", "setenforce 0",
    "systemctl stop", "systemctl disable", "auditctl -D", "modprobe -r", "/lib/modules/",
    "crontab -r", "@reboot", "/etc/cron.d/", "/etc/rc.local", "/etc/init.d/", "id_rsa",
    "known_hosts", ".ssh/config", "--upload-file", " --data ", "ssh-keygen -t", "-R 0.0.0.0",
    "-D 1080", "socks5://", "--proxy ", "stratum+tcp://", "--donate-level", "--cpu-priority",
    "pool.minexmr", "/etc/ld.so.preload", "ld.so.preload", "--security-opt apparmor=unconfined",
    "--pid=host", "--net=host", "docker.sock", "kubectl exec", "--token=", "aws_secret",
    "AKIA", ".aws/credentials", ".kube/config", "/var/run/secrets/", "xattr", "base64 -w0",
    "openssl enc", "-aes-256-cbc", "-pass pass:", "gpg --symmetric", "tar czf - ", "| nc ",
    "ftp://", "tftp -g", "smb://", "--tcp-connect", "| openssl s_client", "s_client -connect",
    "-quiet -connect", "cat /etc/issue", "uname -a", "id -u", "whoami", "sudo -l",
    "find / -perm -4000", "-perm -u=s", "getcap -r /", "/etc/crontab", "chattr -i",
    "chattr +i", "--keep-alive", "bash -c", "sh -c", "python -c", "perl -e", "ruby -e",
    "php -r", "lua -e", "node -e", "awk 'BEGIN", "sed -n", "xxd -r -p", "base32 -d",
    "uudecode -o", "tail -f /dev/null", "sleep 3600", "while true", "do sleep", "2>/dev/null &"};
const std::vector<std::string> kWebParents = {
    "/usr/sbin/apache2", "/usr/sbin/nginx", "/usr/sbin/httpd", "/usr/sbin/php-fpm8.2",
    "/usr/bin/php", "/usr/sbin/mysqld", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
    "/usr/bin/tomcat9", "/usr/sbin/lighttpd", "/usr/bin/gunicorn", "/usr/local/bin/uwsgi",
    "/usr/sbin/squid", "/usr/sbin/vsftpd", "/usr/sbin/proftpd", "/usr/sbin/smbd",
    "/usr/bin/containerd-shim-runc-v2", "/usr/sbin/exim4", "/usr/sbin/postfix", "/usr/bin/redis-server",
    "/usr/bin/mongod"};
const std::vector<std::string> kShells = {"/bash", "/sh", "/dash", "/zsh", "/ksh", "/busybox",
                                          "/python3", "/perl", "/ruby", "/nc", "/ncat", "/socat"};
const std::vector<std::string> kDropDirs = {"/tmp/", "/dev/shm/", "/var/tmp/", "/run/user/",
                                            "/var/www/", "/tmp/.X11-unix/", "/var/lib/php/sessions/"};
const std::vector<std::string> kNetShells = {"/bash", "/sh", "/dash", "/zsh", "/ksh", "/busybox",
                                             "/nc", "/ncat", "/socat", "/telnet"};
const std::vector<std::string> kPersistDirs = {
    "/etc/cron.d/", "/etc/cron.daily/", "/etc/cron.hourly/", "/var/spool/cron/crontabs/",
    "/etc/systemd/system/", "/lib/systemd/system/", "/etc/init.d/", "/etc/rc.local",
    "/etc/ld.so.preload", "/etc/sudoers.d/", "/etc/profile.d/", "/root/.bashrc",
    "/.ssh/authorized_keys", "/etc/pam.d/", "/lib/x86_64-linux-gnu/security/",
    "/etc/update-motd.d/", "/etc/apt/apt.conf.d/", "/var/www/html/", "/boot/",
    "/etc/modules-load.d/", "/etc/udev/rules.d/", "/etc/xdg/autostart/", "/etc/environment",
    "/etc/ssh/sshd_config", "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/hosts",
    "/etc/resolv.conf", "/usr/lib/systemd/system-generators/", "/etc/NetworkManager/dispatcher.d/",
    "/var/lib/docker/", "/etc/doas.conf", "/root/.profile", "/.config/autostart/"};
const std::vector<std::string> kSuffixes = {".so", ".sh", ".py", ".elf", ".service", ".timer",
                                            ".php", ".jsp", ".war", ".ko", ".desktop", ".rules",
                                            ".conf", ".pem", ".key", ".bin", ".pl", ".phtml"};
const std::vector<int> kBadPorts = {4444, 1337, 31337, 6667, 6697, 9001, 9050, 8888, 5555, 1080,
                                    3389, 23, 2323, 4443, 8443, 445, 139, 5900, 6379, 27017,
                                    11211, 2375, 10250, 3333, 5556, 7777, 14444, 45700};
const std::vector<std::string> kBadHosts = {
    ".onion", ".ngrok.io", "pastebin.com", "transfer.sh", "raw.githubusercontent.com",
    ".duckdns.org", ".no-ip.org", "api.telegram.org", "discord.com", "bit.ly", ".serveo.net",
    "ipinfo.io", "ifconfig.me", "api.ipify.org", ".trycloudflare.com", "pool.supportxmr.com",
    "xmrpool.eu", ".portmap.io", "temp.sh", "file.io"};
const std::vector<std::string> kPrivateNets = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                               "127.0.0.0/8", "169.254.0.0/16", "::1/128",
                                               "fe80::/10", "fc00::/7", "100.64.0.0/10"};
const std::vector<std::string> kRegexTemplates = {
    "\\s-[{L}{L}]\\s", "{T}\\s+-[a-z]*{L}", "(\\d{1,3}\\.){3}\\d{1,3}:\\d{2,5}",
    "[A-Za-z0-9+/]{{40,}}={{0,2}}", "-(e|c)\\s+/bin/(ba)?sh", "https?://[^/\\s]+/{W}",
    "/tmp/\\.[a-z]{{3,}}", "{T}.*\\|\\s*(ba)?sh", "\\s--{W}(=|\\s)", "(?:\\s-[^-\\s]{{0,20}}{L})",
    "echo\\s+[A-Za-z0-9+/=]{{20,}}\\s*\\|", "{T}\\s.*-{L}\\s+\\d+"};
const std::vector<std::string> kWords = {"payload", "shell", "stage2", "implant", "beacon",
                                         "update", "install", "agent", "loader", "dropper",
                                         "x86_64", "kworker", "upgrade", "sync", "backup"};
const std::vector<std::string> kLevels = {"low", "medium", "medium", "high", "high", "critical"};

std::string Uuid(std::mt19937_64& rng) {
  const uint64_t a = rng(), b = rng();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     0x8000 | (b >> 48 & 0x3fff), b & 0xffffffffffffULL);
}

std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// "        Image|endswith:\n            - '/nc'\n" (a scalar when one value).
std::string Field(std::string_view key, const std::vector<std::string>& values) {
  if (values.size() == 1) return fmt::format("        {}: {}\n", key, Quote(values[0]));
  std::string out = fmt::format("        {}:\n", key);
  for (const auto& v : values) out += fmt::format("            - {}\n", Quote(v));
  return out;
}
std::string Numbers(std::string_view key, const std::vector<int>& values) {
  std::string out = fmt::format("        {}:\n", key);
  for (int v : values) out += fmt::format("            - {}\n", v);
  return out;
}

std::vector<std::string> Several(std::mt19937_64& rng, const std::vector<std::string>& from,
                                 size_t lo, size_t hi, std::string_view prefix = "") {
  std::vector<std::string> out;
  for (size_t i = 0, n = Uniform(rng, lo, hi); i < n; ++i) {
    std::string v = std::string(prefix) + Pick(rng, from);
    bool dup = false;
    for (const auto& o : out) dup = dup || o == v;
    if (!dup) out.push_back(std::move(v));
  }
  return out;
}

std::string Expand(std::mt19937_64& rng, std::string t) {
  static const std::string kLetters = "abcdefhiklnoprstuvwxDFORST";
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t.compare(i, 3, "{L}") == 0) {
      out += kLetters[Uniform(rng, 0, kLetters.size() - 1)];
      i += 2;
    } else if (t.compare(i, 3, "{T}") == 0) {
      for (char c : Pick(rng, kTools)) {
        if (c == '.' || c == '+') out += '\\';
        out += c;
      }
      i += 2;
    } else if (t.compare(i, 3, "{W}") == 0) {
      out += Pick(rng, kWords);
      i += 2;
    } else if (t.compare(i, 2, "{{") == 0 || t.compare(i, 2, "}}") == 0) {
      out += t[i];
      ++i;
    } else {
      out += t[i];
    }
  }
  return out;
}

struct Detection {
  std::string category;
  std::string body;  // selections, already indented
  std::string condition;
  std::string title;
};

Detection ProcessRule(std::mt19937_64& rng) {
  Detection d{"process_creation", "", "selection", ""};
  const std::string tool = Pick(rng, kTools);
  switch (Uniform(rng, 0, 9)) {
    case 0:
      d.title = fmt::format("Suspicious {} Arguments", tool);
      d.body = "    selection:\n" + Field("Image|endswith", Several(rng, kTools, 1, 3, "/")) +
               Field("CommandLine|contains", Several(rng, kArgs, 1, 4));
      break;
    case 1:
      d.title = fmt::format("{} Argument Combination", tool);
      d.body = "    selection:\n" + Field("Image|endswith", {"/" + tool}) +
               Field("CommandLine|contains|all", Several(rng, kArgs, 2, 3));
      break;
    case 2:
      d.title = "Shell Spawned By Service";
      d.body = "    selection:\n" + Field("ParentImage|endswith", Several(rng, kWebParents, 1, 4)) +
               Field("Image|endswith", Several(rng, kShells, 1, 4));
      if (Chance(rng, 0.5)) {
        d.body += "    filter_main:\n" + Field("CommandLine|contains", Several(rng, kArgs, 1, 2));
        d.condition = "selection and not filter_main";
      }
      break;
    case 3:
      d.title = fmt::format("{} Regex Pattern", tool);
      d.body = "    selection_img:\n" + Field("Image|endswith", {"/" + tool}) +
               "    selection_re:\n" + Field("CommandLine|re", {Expand(rng, Pick(rng, kRegexTemplates))});
      d.condition = "all of selection_*";
      break;
    case 4:
      d.title = fmt::format("{} Usage Outside Package Management", tool);
      d.body = "    selection:\n" + Field("Image|endswith", Several(rng, kTools, 1, 2, "/")) +
               Field("CommandLine|contains", Several(rng, kArgs, 1, 3)) +
               "    filter_main_pkg:\n" +
               Field("ParentImage|startswith", {"/usr/bin/dpkg", "/usr/bin/apt", "/usr/lib/"}) +
               "    filter_optional_root:\n" + Field("User", {"root"});
      d.condition = "selection and not 1 of filter_*";
      break;
    case 5:
      d.title = fmt::format("{} Indicators", tool);
      d.body = "    selection_img:\n" + Field("Image|endswith", Several(rng, kHackTools, 1, 3, "/")) +
               "    selection_cli:\n" +
               Field("CommandLine|contains", {Pick(rng, kTools) + " " + Pick(rng, kArgs)});
      d.condition = "1 of selection_*";
      break;
    case 6:
      d.title = "Execution From Suspicious Directory";
      d.body = "    selection:\n" + Field("Image|startswith", Several(rng, kDropDirs, 1, 3)) +
               Field("Image|endswith", Several(rng, kTools, 1, 3, "/"));
      break;
    case 7:
      d.title = fmt::format("{} Wildcard Command", tool);
      d.body = "    selection:\n" +
               Field("CommandLine", {"*" + tool + " *" + Pick(rng, kArgs) + "*"});
      break;
    case 8:
      d.title = fmt::format("{} Command Line", tool);
      d.body = "    selection:\n" + Field("CommandLine|contains", {tool + " " + Pick(rng, kArgs), tool + " " + Pick(rng, kArgs)});
      break;
    default:
      d.title = fmt::format("{} Run By Service Account", tool);
      d.body = "    selection:\n" + Field("Image|endswith", {"/" + tool}) +
               Field("User", Several(rng, {"www-data", "nobody", "apache", "nginx", "mysql", "postgres", "redis"}, 1, 3)) +
               Field("CurrentDirectory|startswith", Several(rng, kDropDirs, 1, 2));
      break;
  }
  return d;
}

Detection FileRule(std::mt19937_64& rng) {
  Detection d{"file_event", "", "selection", ""};
  switch (Uniform(rng, 0, 2)) {
    case 0:
      d.title = "Persistence File Written";
      d.body = "    selection:\n" + Field("TargetFilename|startswith", Several(rng, kPersistDirs, 1, 3)) +
               "    filter_main_pkg:\n" +
               Field("Image|endswith", {"/dpkg", "/apt", "/apt-get", "/yum", "/rpm", "/dnf", "/snapd"});
      d.condition = "selection and not filter_main_pkg";
      break;
    case 1:
      d.title = "Suspicious File Dropped";
      d.body = "    selection:\n" + Field("TargetFilename|contains", Several(rng, kDropDirs, 1, 2)) +
               Field("TargetFilename|endswith", Several(rng, kSuffixes, 1, 3));
      break;
    default:
      d.title = "Sensitive File Written By Tool";
      d.body = "    selection:\n" + Field("Image|endswith", Several(rng, kTools, 1, 3, "/")) +
               Field("TargetFilename|contains", Several(rng, kPersistDirs, 1, 2));
      break;
  }
  return d;
}

Detection NetworkRule(std::mt19937_64& rng) {
  Detection d{"network_connection", "", "selection", ""};
  switch (Uniform(rng, 0, 2)) {
    case 0: {
      std::vector<int> ports;
      for (size_t i = 0, n = Uniform(rng, 1, 4); i < n; ++i) ports.push_back(Pick(rng, kBadPorts));
      d.title = "Connection To Suspicious Port";
      d.body = "    selection:\n" + Field("Image|endswith", Several(rng, kTools, 1, 3, "/")) +
               Numbers("DestinationPort", ports) + Field("Initiated", {"true"});
      break;
    }
    case 1:
      d.title = "Connection To Suspicious Host";
      d.body = "    selection:\n" + Field("DestinationHostname|endswith", Several(rng, kBadHosts, 1, 3));
      break;
    default:
      d.title = "Shell Connecting To Public Address";
      d.body = "    selection:\n" + Field("Image|endswith", Several(rng, kNetShells, 1, 3)) +
               "    filter_main_private:\n" + Field("DestinationIp|cidr", Several(rng, kPrivateNets, 2, 5));
      d.condition = "selection and not filter_main_private";
      break;
  }
  return d;
}

// ---------------------------------------------------------------------------
// Realistic events.

struct Proc {
  std::string image, command_line, parent_image, parent_command_line;
};

const std::vector<std::string> kUsers = {"root", "alice", "bob", "www-data", "postgres", "ubuntu", "jenkins"};
const std::vector<std::string> kProjects = {"vigil", "webapp", "infra", "dotfiles", "kernel-tools"};
const std::vector<std::string> kPackages = {"libssl3", "nginx", "python3-requests", "git", "curl",
                                            "htop", "build-essential", "postgresql-15", "vim"};
const std::vector<std::string> kServices = {"nginx", "postgresql", "ssh", "cron", "docker", "systemd-resolved"};
const std::vector<std::string> kSources = {"main", "parser", "util", "server", "engine", "config"};

std::string HomeDir(const std::string& user) { return user == "root" ? "/root" : "/home/" + user; }

Proc BenignProc(std::mt19937_64& rng, const std::string& user) {
  const std::string home = HomeDir(user);
  const std::string proj = home + "/src/" + Pick(rng, kProjects);
  const std::string src = Pick(rng, kSources);
  const Proc shell{"/usr/bin/bash", "-bash", "/usr/sbin/sshd", "sshd: " + user + "@pts/0"};
  auto from_shell = [&](std::string image, std::string cmd) {
    return Proc{std::move(image), std::move(cmd), shell.image, shell.command_line};
  };
  switch (Uniform(rng, 0, 27)) {
    case 0: return from_shell("/usr/bin/ls", "ls -la " + proj);
    case 1: return from_shell("/usr/bin/grep", "grep -rn --include=*.cc TODO " + proj);
    case 2: return from_shell("/usr/bin/cat", "cat " + proj + "/README.md");
    case 3: return from_shell("/usr/bin/git", "git status --short");
    case 4: return from_shell("/usr/bin/git", "git log --oneline -n 20");
    case 5: return from_shell("/usr/bin/python3", "python3 " + proj + "/scripts/report.py --verbose");
    case 6: return {"/usr/bin/apt-get", "apt-get install -y " + Pick(rng, kPackages), "/usr/bin/sudo", "sudo apt-get install -y " + Pick(rng, kPackages)};
    case 7: return {"/usr/bin/dpkg", "/usr/bin/dpkg --status-fd 43 --configure --pending", "/usr/bin/apt-get", "apt-get upgrade -y"};
    case 8: return {"/usr/sbin/cron", "/usr/sbin/cron -f -P", "/usr/lib/systemd/systemd", "/sbin/init splash"};
    case 9: return {"/usr/bin/dash", "/bin/sh -c run-parts --report /etc/cron.hourly", "/usr/sbin/cron", "/usr/sbin/cron -f -P"};
    case 10: return {"/usr/bin/gcc", "gcc -O2 -Wall -c " + src + ".c -o " + src + ".o", "/usr/bin/make", "make -j2 all"};
    case 11: return {"/usr/bin/c++", "c++ -std=c++20 -O2 -g -I" + proj + " -c " + proj + "/engine/" + src + ".cc", "/usr/bin/ninja", "ninja -C build -j2"};
    case 12: return from_shell("/usr/bin/ssh", "ssh -p 22 deploy@build.internal.example.com");
    case 13: return {"/usr/sbin/sshd", "sshd: " + user + " [priv]", "/usr/sbin/sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"};
    case 14: return from_shell("/usr/bin/sudo", "sudo systemctl restart " + Pick(rng, kServices));
    case 15: return {"/usr/bin/systemctl", "systemctl status " + Pick(rng, kServices), "/usr/bin/sudo", "sudo systemctl status"};
    case 16: return from_shell("/usr/bin/ps", "ps aux --sort=-%mem");
    case 17: return from_shell("/usr/bin/vim", "vim " + proj + "/" + src + ".cc");
    case 18: return from_shell("/usr/bin/find", "find " + proj + " -name *.log -mtime +7 -delete");
    case 19: return {"/usr/bin/tar", "tar czf /var/backups/" + src + ".tar.gz " + proj, "/usr/bin/bash", "/bin/bash /usr/local/bin/backup.sh"};
    case 20: return from_shell("/usr/bin/curl", "curl -s https://api.example.com/v1/health");
    case 21: return from_shell("/usr/bin/docker", "docker ps -a --format {{.Names}}");
    case 22: return {"/usr/lib/systemd/systemd-journald", "/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd", "/sbin/init splash"};
    case 23: return {"/usr/lib/postgresql/15/bin/postgres", "postgres: 15/main: checkpointer", "/usr/lib/postgresql/15/bin/postgres", "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main"};
    case 24: return from_shell("/usr/bin/rsync", "rsync -az --delete /srv/data/ backup.internal:/srv/data/");
    case 25: return {"/usr/bin/python3", "/usr/bin/python3 /usr/bin/unattended-upgrade", "/usr/lib/systemd/systemd", "/sbin/init splash"};
    case 26: return from_shell("/usr/bin/less", "less /var/log/" + Pick(rng, kServices) + ".log");
    default: return from_shell("/usr/bin/node", "node " + proj + "/server.js --port 8080");
  }
}

Proc NetworkProc(std::mt19937_64& rng) {
  static const std::vector<Proc> kClients = {
      {"/usr/bin/curl", "curl -fsSL https://deb.debian.org/debian/dists/bookworm/Release", "/usr/bin/bash", "-bash"},
      {"/usr/lib/apt/methods/http", "/usr/lib/apt/methods/http", "/usr/bin/apt-get", "apt-get update"},
      {"/usr/bin/ssh", "ssh -o BatchMode=yes deploy@build.internal.example.com", "/usr/bin/bash", "-bash"},
      {"/usr/bin/git", "git fetch origin --prune", "/usr/bin/bash", "-bash"},
      {"/usr/lib/systemd/systemd-resolved", "/lib/systemd/systemd-resolved", "/usr/lib/systemd/systemd", "/sbin/init splash"},
      {"/usr/bin/python3", "python3 -m pip install --user requests", "/usr/bin/bash", "-bash"},
      {"/usr/sbin/chronyd", "/usr/sbin/chronyd -F 1", "/usr/lib/systemd/systemd", "/sbin/init splash"},
      {"/usr/bin/node", "node /srv/app/server.js --port 8080", "/usr/lib/systemd/systemd", "/sbin/init splash"}};
  return Pick(rng, kClients);
}

Proc MaliciousProc(std::mt19937_64& rng) {
  const std::string tool = Pick(rng, Chance(rng, 0.2) ? kHackTools : kTools);
  std::string dir = Chance(rng, 0.3) ? Pick(rng, kDropDirs) : "/usr/bin/";
  std::string cmd = tool + " " + Pick(rng, kArgs) + " " + Pick(rng, kArgs);
  if (Chance(rng, 0.3)) cmd += " 10.13.37.2 " + std::to_string(Pick(rng, kBadPorts));
  const bool web = Chance(rng, 0.4);
  return {dir + tool, cmd, web ? Pick(rng, kWebParents) : "/usr/bin/bash", web ? "worker process" : "-bash"};
}

void FillProcess(const Schema& schema, OwnedEvent& ev, std::mt19937_64& rng, const Proc& p,
                 const std::string& user, bool odd_cwd) {
  ev.SetNumber(schema, "ProcessId", static_cast<int64_t>(Uniform(rng, 300, 400000)));
  ev.Set(schema, "Image", p.image);
  ev.Set(schema, "CommandLine", p.command_line);
  ev.Set(schema, "CurrentDirectory", odd_cwd ? Pick(rng, kDropDirs) : HomeDir(user) + "/src/" + Pick(rng, kProjects));
  ev.Set(schema, "User", user);
  ev.SetNumber(schema, "UserId", user == "root" ? 0 : static_cast<int64_t>(Uniform(rng, 1000, 1010)));
  ev.SetNumber(schema, "LogonId", static_cast<int64_t>(Uniform(rng, 1, 50)));
  ev.SetNumber(schema, "ParentProcessId", static_cast<int64_t>(Uniform(rng, 1, 400000)));
  ev.Set(schema, "ParentImage", p.parent_image);
  ev.Set(schema, "ParentCommandLine", p.parent_command_line);
  ev.Set(schema, "ParentUser", user);
}

}  // namespace

OwnedEvent::OwnedEvent(EventTypeId type, size_t field_count)
    : type_(type), text_(field_count), building_(field_count), fields_(building_) {}

void OwnedEvent::Set(FieldIndex field, std::string text) {
  if (packed_) std::abort();  // a caller bug: see Pack()
  text_.at(field) = std::move(text);
  building_[field].Set(text_[field]);
}

void OwnedEvent::SetNumber(FieldIndex field, int64_t number) {
  if (packed_) std::abort();
  text_.at(field) = std::to_string(number);
  building_[field].SetNumber(text_[field], number);
}

void OwnedEvent::Pack() {
  const size_t n = building_.size();
  size_t bytes = n * sizeof(FieldValue);
  for (const auto& t : text_) bytes += t.size();
  packed_ = std::make_unique<std::byte[]>(bytes);
  auto* values = new (packed_.get()) FieldValue[n];
  char* text = reinterpret_cast<char*>(packed_.get() + n * sizeof(FieldValue));
  for (size_t f = 0; f < n; ++f) {
    values[f] = building_[f];
    std::memcpy(text, text_[f].data(), text_[f].size());
    values[f].text = std::string_view(text, text_[f].size());
    text += text_[f].size();
  }
  fields_ = std::span<const FieldValue>(values, n);
  text_.clear();
  building_.clear();
}

void OwnedEvent::Set(const Schema& schema, std::string_view name, std::string text) {
  Set(FieldOf(schema, type_, name), std::move(text));
}

void OwnedEvent::SetNumber(const Schema& schema, std::string_view name, int64_t number) {
  SetNumber(FieldOf(schema, type_, name), number);
}

std::string OwnedEvent::ToString(const Schema& schema) const {
  const auto& def = schema.event_type(type_);
  std::string out = def.name + "{";
  for (size_t f = 0; f < fields_.size(); ++f) {
    if (!fields_[f].present) continue;
    out += fmt::format("{}{}={:?}{}", out.back() == '{' ? "" : ", ", def.fields[f].name,
                       std::string(fields_[f].text), fields_[f].has_number ? "#" : "");
  }
  return out + "}";
}

content::Ruleset RandomRuleset(std::mt19937_64& rng, const Schema& schema, size_t count) {
  const std::vector<EventTypeId> types = {TypeOf(schema, "process_creation"),
                                          TypeOf(schema, "file_event"),
                                          TypeOf(schema, "network_connection")};
  content::Ruleset rs;
  rs.info.schema_version = schema.version();
  rs.info.schema_hash = schema.hash();
  for (size_t i = 0; i < count; ++i) {
    content::Rule r;
    r.id = fmt::format("random-{}", i);
    r.title = r.id;
    r.event_type = Pick(rng, types);
    r.event_type_name = schema.event_type(r.event_type).name;
    for (size_t k = 0, n = Uniform(rng, 1, 6); k < n; ++k) r.atoms.push_back(RandomAtom(rng, schema, r.event_type));
    RandomProgram(rng, r.atoms.size(), 3, r.program);
    // Half the rules get a literal conjunct, like a Sigma selection, so the
    // prefilter (not only the evaluate-always path) is exercised.
    if (Chance(rng, 0.5)) {
      content::Atom lit = RandomAtom(rng, schema, r.event_type);
      lit.op = static_cast<AtomOp>(Uniform(rng, 0, 3));
      lit.value = RandomLiteral(rng);
      lit.flags = Chance(rng, 0.3) ? content::kCased : 0;
      r.atoms.push_back(std::move(lit));
      r.program.push_back({OpCode::kAtom, static_cast<uint32_t>(r.atoms.size() - 1), 0});
      r.program.push_back({OpCode::kAnd, 2, 0});
    }
    rs.rules.push_back(std::move(r));
  }
  return rs;
}

OwnedEvent RandomEvent(std::mt19937_64& rng, const Schema& schema, EventTypeId type) {
  const auto& fields = schema.event_type(type).fields;
  OwnedEvent ev(type, fields.size());
  for (size_t f = 0; f < fields.size(); ++f) {
    if (Chance(rng, 0.15)) continue;  // absent
    const auto index = static_cast<FieldIndex>(f);
    switch (fields[f].type) {
      case FieldType::kInteger:
        if (Chance(rng, 0.1)) {
          ev.Set(index, RandomText(rng));
        } else {
          ev.SetNumber(index, static_cast<int64_t>(Uniform(rng, 0, 6)) - 2);
        }
        break;
      case FieldType::kIp: ev.Set(index, Pick(rng, kAddresses)); break;
      case FieldType::kBoolean: ev.Set(index, Chance(rng, 0.5) ? "true" : "false"); break;
      case FieldType::kString:
        ev.Set(index, Chance(rng, 0.1) ? Pick(rng, kAddresses) : RandomText(rng));
        break;
    }
  }
  return ev;
}

std::string DescribeRule(const content::Rule& rule) {
  std::string out = fmt::format("rule {} ({}), event type {}\n", rule.id, rule.title, rule.event_type);
  for (size_t i = 0; i < rule.atoms.size(); ++i) {
    const auto& a = rule.atoms[i];
    out += fmt::format("  atom {}: field {} ({}) {} {:?} number={} ref={} flags={:#x}\n", i,
                       a.field == content::kAnyField ? std::string("ANY") : std::to_string(a.field),
                       a.field_name, OpName(a.op), a.value, a.number, a.ref_field, a.flags);
  }
  out += "  program:";
  static const char* kOps[] = {"atom", "not", "and", "or", "atleast", "true", "false"};
  for (const auto& in : rule.program) {
    out += fmt::format(" {}({},{})", kOps[static_cast<size_t>(in.op)], in.a, in.b);
  }
  return out + "\n";
}

std::vector<SigmaFile> GenerateSigmaRules(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<SigmaFile> files;
  for (size_t i = 0; i < count; ++i) {
    const double kind = std::uniform_real_distribution<double>(0, 1)(rng);
    Detection d = kind < 0.7 ? ProcessRule(rng) : kind < 0.85 ? FileRule(rng) : NetworkRule(rng);
    std::string text = fmt::format(
        "title: {} {}\n"
        "id: {}\n"
        "status: experimental\n"
        "description: Generated benchmark rule {} ({} template).\n"
        "author: vigil rule generator\n"
        "date: 2024-07-19\n"
        "tags:\n"
        "    - attack.execution\n"
        "    - attack.t1059.004\n"
        "logsource:\n"
        "    product: linux\n"
        "    category: {}\n"
        "detection:\n"
        "{}"
        "    condition: {}\n"
        "falsepositives:\n"
        "    - Administrative activity\n"
        "level: {}\n",
        d.title, i, Uuid(rng), i, d.category, d.category, d.body, d.condition, Pick(rng, kLevels));
    files.push_back({fmt::format("generated/rule_{:04}.yml", i), std::move(text)});
  }
  return files;
}

std::vector<OwnedEvent> GenerateEventMix(const Schema& schema, size_t count, uint64_t seed,
                                         const EventMixOptions& options) {
  std::mt19937_64 rng(seed);
  const EventTypeId proc = TypeOf(schema, "process_creation");
  const EventTypeId file = TypeOf(schema, "file_event");
  const EventTypeId net = TypeOf(schema, "network_connection");
  std::vector<OwnedEvent> events;
  events.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const double kind = std::uniform_real_distribution<double>(0, 1)(rng);
    const bool bad = Chance(rng, options.malicious);
    const std::string user = bad && Chance(rng, 0.5) ? "www-data" : Pick(rng, kUsers);
    const EventTypeId type = kind < options.process_creation ? proc
                             : kind < options.process_creation + options.file_event ? file
                                                                                    : net;
    const Proc p = bad ? MaliciousProc(rng) : type == net ? NetworkProc(rng) : BenignProc(rng, user);
    OwnedEvent ev(type, schema.event_type(type).fields.size());
    FillProcess(schema, ev, rng, p, user, bad && Chance(rng, 0.3));
    if (type == proc) {
      ev.SetNumber(schema, "GroupId", user == "root" ? 0 : 1000);
    } else if (type == file) {
      std::string target;
      if (bad) {
        target = Pick(rng, Chance(rng, 0.5) ? kPersistDirs : kDropDirs) + Pick(rng, kWords) + Pick(rng, kSuffixes);
      } else {
        switch (Uniform(rng, 0, 4)) {
          case 0: target = HomeDir(user) + "/src/" + Pick(rng, kProjects) + "/build/" + Pick(rng, kSources) + ".o"; break;
          case 1: target = fmt::format("/tmp/tmp{:06x}", rng() & 0xffffff); break;
          case 2: target = "/var/log/" + Pick(rng, kServices) + ".log"; break;
          case 3: target = "/var/lib/dpkg/info/" + Pick(rng, kPackages) + ".list"; break;
          default: target = HomeDir(user) + "/.cache/pip/http/" + Pick(rng, kSources); break;
        }
      }
      ev.Set(schema, "TargetFilename", target);
    } else {
      static const std::vector<std::string> kPublic = {"93.184.216.34", "151.101.1.69", "140.82.112.3", "2606:4700::6810:85e5", "104.16.132.229"};
      static const std::vector<std::string> kPrivate = {"10.0.3.17", "192.168.1.20", "172.17.0.2", "127.0.0.1", "fe80::1c2a:3bff:fe4d:5e6f"};
      static const std::vector<std::string> kGoodHosts = {"deb.debian.org", "github.com", "pypi.org", "api.example.com", "registry.npmjs.org"};
      static const std::vector<int> kGoodPorts = {443, 80, 53, 22, 5432, 8080};
      const bool v6_or_private = Chance(rng, 0.4);
      const std::string dst = v6_or_private ? Pick(rng, kPrivate) : Pick(rng, kPublic);
      ev.Set(schema, "Protocol", Chance(rng, 0.9) ? "tcp" : "udp");
      ev.Set(schema, "Initiated", "true");
      ev.Set(schema, "SourceIp", dst.find(':') != std::string::npos ? "fe80::1" : "10.0.3.5");
      ev.SetNumber(schema, "SourcePort", static_cast<int64_t>(Uniform(rng, 32768, 60999)));
      ev.Set(schema, "DestinationIp", bad ? "203.0.113." + std::to_string(Uniform(rng, 1, 254)) : dst);
      ev.SetNumber(schema, "DestinationPort", bad ? Pick(rng, kBadPorts) : Pick(rng, kGoodPorts));
      ev.Set(schema, "DestinationHostname", bad ? "c2" + Pick(rng, kBadHosts) : Pick(rng, kGoodHosts));
      ev.Set(schema, "DestinationIsIpv6", dst.find(':') != std::string::npos ? "true" : "false");
    }
    ev.Pack();
    events.push_back(std::move(ev));
  }
  return events;
}

}  // namespace vigil::engine::testing
