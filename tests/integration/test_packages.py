#!/usr/bin/env python3
"""`make install` and `make deb` (issue 17): the installed tree, a program built against the
installed libsotto through its sotto.pc, and the Debian packages' contents, metadata and
maintainer scripts in a throwaway dpkg root (the data directory kept across an upgrade)."""
import os
import pwd
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sotto_harness import BUILD, check, run_tests, scaled  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROGRAM = b"""#include <stdio.h>
#include <sotto/error.h>
int main(void) { puts(sotto_strerror(SOTTO_ERR_INVITE_EXPIRED)); return 0; }
"""


def run(args, **kw):
    r = subprocess.run(args, cwd=kw.pop("cwd", REPO), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=scaled(120), **kw)
    check(r.returncode == 0, "%s: %s" % (" ".join(args), r.stderr.decode()[-2000:]))
    return r


def has_user(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def test_make_install_destdir(root, servers):
    dest = os.path.join(root, "dest")
    user_before = has_user("sottod")
    r = run(["make", "-s", "-o", "all", "install", "BUILD=" + BUILD, "DESTDIR=" + dest,
             "PREFIX=/opt/sotto"])
    check(b"DESTDIR set: the sottod user is not made" in r.stderr, r.stderr)
    check(has_user("sottod") == user_before, "make install DESTDIR=... changed the users")
    top = os.path.join(dest, "opt/sotto")
    for name in ("sottod", "sotto"):
        path = os.path.join(top, "bin", name)
        check(os.access(path, os.X_OK), path)
        with open(path, "rb") as a, open(os.path.join(BUILD, name), "rb") as b:
            check(a.read() == b.read(), "%s is not the built one" % path)
    for rel in ("include/sotto/sotto.h", "include/sotto/error.h", "lib/libsotto.a",
                "share/man/man1/sotto.1", "share/man/man8/sottod.8",
                "lib/systemd/system/sottod.service"):
        check(os.path.isfile(os.path.join(top, rel)), rel)
    check(os.readlink(os.path.join(top, "lib/libsotto.so")) == "libsotto.so.0", "symlink")
    with open(os.path.join(top, "lib/systemd/system/sottod.service")) as f:
        check("ExecStart=/opt/sotto/bin/sottod run --data /var/lib/sottod\n" in f.read(),
              "the unit does not start the installed sottod")
    # A program built and linked only through the installed sotto.pc.
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(top, "lib/pkgconfig"),
               PKG_CONFIG_SYSROOT_DIR=dest)
    flags = run(["pkg-config", "--cflags", "--libs", "sotto"], env=env).stdout.decode().split()
    check("-I%s/include" % top in flags and "-L%s/lib" % top in flags, flags)
    src = os.path.join(root, "p.c")
    with open(src, "wb") as f:
        f.write(PROGRAM)
    ldd = run(["ldd", os.path.join(top, "lib/libsotto.so.0")]).stdout
    san = ["-fsanitize=address,undefined"] if b"libasan" in ldd else []
    run(["cc"] + san + [src, "-o", os.path.join(root, "p")] + flags)
    out = run([os.path.join(root, "p")],
              env=dict(os.environ, LD_LIBRARY_PATH=os.path.join(top, "lib"))).stdout
    check(out == b"that invite has expired or was revoked\n", out)


def dpkg_root(root):
    """An empty dpkg database and the /etc files useradd --prefix edits."""
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc"):
        os.makedirs(os.path.join(root, d))
    for name, text in (("var/lib/dpkg/status", ""), ("var/lib/dpkg/available", ""),
                       ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
                       ("etc/group", "root:x:0:\n"), ("etc/shadow", "root:*:19000::::::\n"),
                       ("etc/gshadow", "root:*::\n")):
        with open(os.path.join(root, name), "w") as f:
            f.write(text)


def test_debs_contents_and_install(root, servers):
    r = run(["make", "-s", "-o", "all", "deb", "BUILD=" + BUILD])
    debs = {}
    for line in r.stdout.decode().split():
        debs[os.path.basename(line).split("_")[0]] = os.path.join(REPO, line)
    check(sorted(debs) == ["libsotto-dev", "sotto", "sottod"], debs)
    want = {
        "sottod": ["./usr/bin/sottod", "./usr/share/man/man8/sottod.8.gz",
                   "./lib/systemd/system/sottod.service"],
        "sotto": ["./usr/bin/sotto", "./usr/share/man/man1/sotto.1.gz"],
        "libsotto-dev": ["./usr/include/sotto/sotto.h", "./usr/include/sotto/error.h",
                         "./usr/lib/libsotto.a", "./usr/lib/libsotto.so",
                         "./usr/lib/pkgconfig/sotto.pc"],
    }
    for pkg, files in want.items():
        listing = run(["dpkg-deb", "-c", debs[pkg]]).stdout.decode()
        paths = [ln.split()[5] for ln in listing.splitlines()]
        for p in files:
            check(p in paths, "%s lacks %s" % (pkg, p))
        check(not any(p.startswith("./var/") for p in paths), "%s ships /var" % pkg)
        check(all(ln.split()[1] == "root/root" for ln in listing.splitlines()), listing)
        info = run(["dpkg-deb", "-I", debs[pkg]]).stdout.decode()
        check(" Package: %s\n" % pkg in info, info)
        check("libsodium23" in info, "%s: no shared library dependency: %s" % (pkg, info))
    check("useradd" in run(["dpkg-deb", "-I", debs["sottod"], "postinst"]).stdout.decode(),
          "no postinst")
    # Install all three into a throwaway root; the maintainer scripts act on DPKG_ROOT.
    droot = os.path.join(root, "root")
    dpkg_root(droot)
    dpkg = ["dpkg", "--root=" + droot, "--force-depends", "--force-script-chrootless",
            "--force-not-root", "--force-bad-path"]
    users_before = has_user("sottod")
    run(dpkg + ["-i"] + list(debs.values()))
    check(has_user("sottod") == users_before, "dpkg --root made a user on this system")
    with open(os.path.join(droot, "etc/passwd")) as f:
        entry = [ln for ln in f.read().splitlines() if ln.startswith("sottod:")]
    check(len(entry) == 1 and entry[0].endswith(":/var/lib/sottod:/usr/sbin/nologin"), entry)
    uid = int(entry[0].split(":")[2])
    data = os.path.join(droot, "var/lib/sottod")
    st = os.stat(data)
    check(st.st_uid == uid and st.st_mode & 0o777 == 0o700, oct(st.st_mode))
    check(os.access(os.path.join(droot, "usr/bin/sottod"), os.X_OK), "sottod not installed")
    # An upgrade (the same package again) and a removal keep the database and its mode.
    db = os.path.join(data, "sottod.db")
    with open(db, "w") as f:
        f.write("the accounts\n")
    os.chmod(data, 0o700)
    run(dpkg + ["-i", debs["sottod"]])
    with open(db) as f:
        check(f.read() == "the accounts\n", "the upgrade lost the database")
    check(os.stat(data).st_mode & 0o777 == 0o700, "the upgrade changed the directory's mode")
    run(dpkg + ["--purge", "sottod"])
    check(not os.path.exists(os.path.join(droot, "usr/bin/sottod")), "sottod not removed")
    check(os.path.isfile(db), "the purge deleted the database")


if __name__ == "__main__":
    run_tests([test_make_install_destdir, test_debs_contents_and_install])
