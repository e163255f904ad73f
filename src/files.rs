//! Files only their owner can read, written so that a kill at any moment leaves the old content or
//! the new, never half of it. Backups, the journal, scripts and the rehearsal tenant all go through
//! here, so "private" means the same everywhere: mode 0700/0600 on Unix, and on Windows a protected
//! access list naming only the user (mode bits mean nothing there, and a folder under the profile
//! would otherwise inherit whatever the machine grants to Administrators or backup tools).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Creates `dir` (and its missing parents), each readable only by its owner; folders that already
/// exist above it are left as they are.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    for d in missing.into_iter().rev() {
        #[cfg_attr(not(unix), allow(unused_mut))]
        let mut b = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        match b.create(d) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(above(d, dir, e)),
        }
        #[cfg(windows)]
        owner_only::restrict(d, true).map_err(|e| above(d, dir, e))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(windows)]
    owner_only::restrict(dir, true)?;
    Ok(())
}

/// The caller names `dir`; a folder above it that failed is named here.
fn above(d: &Path, dir: &Path, e: io::Error) -> io::Error {
    if d == dir {
        return e;
    }
    io::Error::new(e.kind(), format!("{}: {e}", d.display()))
}

/// Options that create a file readable only by its owner (on Windows, the folder's owner-only list is
/// inherited; `restrict` is for files outside such a folder).
pub fn private_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Makes an existing file or folder readable only by its owner.
pub fn restrict(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if path.is_dir() { 0o700 } else { 0o600 };
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(windows)]
    {
        owner_only::restrict(path, path.is_dir())
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = path;
        Ok(())
    }
}

/// Replaces `path` with `bytes`, atomically and durably; the file is readable only by its owner.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Like `write_atomic`, with `fill` writing the content straight into the file (no copy of a large
/// tenant in memory first).
///
/// Nothing planted in a shared folder can redirect the write: the temporary file has a random name
/// and is created exclusively (`O_EXCL`, `CREATE_NEW`: a file or link already at that name fails the
/// creation instead of being followed or reused), it is the owner's alone from its creation (mode
/// 0600 set on the open handle on Unix, the owner-only access list set on the handle on Windows)
/// before any byte is written, and a target that is a symbolic link is refused with the reason: the
/// rename would replace the link, and whoever planted it chose where the output was meant to go.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    refuse_link(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .make_in(dir, new_private)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    // A script the user asked for lands in a folder of theirs, which may let others read it.
    #[cfg(windows)]
    owner_only::restrict_file(tmp.as_file())?;
    fill(tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    // The check above and the rename are not one step: a link planted at the target in between is
    // replaced by the rename (which never follows it), so nothing outside the target changes.
    tmp.persist(path).map_err(|e| e.error)?;
    // Windows cannot open a folder as a file; its rename is durable once it returns.
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        d.sync_all()?;
    }
    Ok(())
}

/// A new file at `path`, created exclusively (nothing already there, file or link, is opened) and
/// the owner's alone from the start: mode 0600 on Unix; on Windows the handle may also set the access
/// list (`WRITE_DAC`), which the caller does before writing.
fn new_private(path: &Path) -> io::Result<File> {
    let mut o = private_options();
    o.read(true).write(true).create_new(true);
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        const GENERIC_READ: u32 = 0x8000_0000;
        const GENERIC_WRITE: u32 = 0x4000_0000;
        const WRITE_DAC: u32 = 0x0004_0000;
        o.access_mode(GENERIC_READ | GENERIC_WRITE | WRITE_DAC);
    }
    o.open(path)
}

/// Refuses a path that is a symbolic link (or, on Windows, any reparse point such as a junction).
fn refuse_link(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a symbolic link: refused, so that the output cannot be sent where the link points (remove the link, or name the file itself)",
        )),
        _ => Ok(()),
    }
}

/// The records of a JSON-lines file, oldest first; none when it does not exist. A line that does
/// not read (a torn last line after a crash mid-write) is skipped.
pub fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> io::Result<Vec<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// Appends `bytes` to `path` (created readable only by its owner) and makes them durable.
pub fn append_durable(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let created = !path.exists();
    let mut f = private_options().create(true).append(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_data()?;
    // A new file's name is durable once its folder is synced (Windows cannot open a folder so).
    #[cfg(unix)]
    if created
        && let Some(dir) = path.parent()
        && let Ok(d) = File::open(dir)
    {
        d.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = created;
    Ok(())
}

/// A PowerShell script as Windows expects it: Windows PowerShell 5.1 (what AD FS and Entra Connect
/// servers run) reads a file without a byte-order mark in the ANSI code page, so a UTF-8 "—" or a
/// name with an accent would arrive garbled; CRLF line ends keep every editor and diff on the
/// server happy.
pub fn powershell_file(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 30 + 3);
    out.extend_from_slice(b"\xEF\xBB\xBF");
    let mut prev = 0u8;
    for &b in text.as_bytes() {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// Whether only the owner can reach `path`: the test of "private" on each platform.
pub fn is_owner_only(path: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Ok(fs::metadata(path)?.permissions().mode() & 0o077 == 0)
    }
    #[cfg(windows)]
    {
        owner_only::check(path)
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = path;
        Ok(false)
    }
}

#[cfg(windows)]
mod owner_only {
    //! A protected DACL with one entry: the current user, full control (inherited by what a folder
    //! holds). Protected, so that nothing from the parent folder is added back.
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::path::Path;
    use std::ptr::null_mut;

    use windows_sys::Win32::Foundation::{CloseHandle, ERROR_SUCCESS, HANDLE, LocalFree};
    use windows_sys::Win32::Security::Authorization::{
        GetNamedSecurityInfoW, SE_FILE_OBJECT, SetNamedSecurityInfoW, SetSecurityInfo,
    };
    use windows_sys::Win32::Security::{
        ACCESS_ALLOWED_ACE, ACL, ACL_REVISION, AddAccessAllowedAceEx, CONTAINER_INHERIT_ACE,
        DACL_SECURITY_INFORMATION, EqualSid, GetAce, GetLengthSid, GetSecurityDescriptorControl,
        GetTokenInformation, InitializeAcl, OBJECT_INHERIT_ACE,
        PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, SE_DACL_PROTECTED, TOKEN_QUERY,
        TOKEN_USER, TokenUser,
    };
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

    const FILE_ALL_ACCESS: u32 = 0x001F_01FF;

    /// The current user's SID, in a buffer that owns it.
    struct User {
        buf: Vec<u64>,
    }

    impl User {
        fn current() -> io::Result<User> {
            // SAFETY: the token handle is closed below; the buffer is sized by the first call and
            // 8-byte aligned for TOKEN_USER.
            unsafe {
                let mut token: HANDLE = null_mut();
                if OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) == 0 {
                    return Err(io::Error::last_os_error());
                }
                let mut len = 0u32;
                GetTokenInformation(token, TokenUser, null_mut(), 0, &mut len);
                let mut buf = vec![0u64; (len as usize).div_ceil(8).max(1)];
                let ok =
                    GetTokenInformation(token, TokenUser, buf.as_mut_ptr().cast(), len, &mut len);
                let err = io::Error::last_os_error();
                CloseHandle(token);
                if ok == 0 {
                    return Err(err);
                }
                Ok(User { buf })
            }
        }

        fn sid(&self) -> *mut core::ffi::c_void {
            // SAFETY: filled by GetTokenInformation(TokenUser) above.
            unsafe { (*(self.buf.as_ptr() as *const TOKEN_USER)).User.Sid }
        }
    }

    fn wide(path: &Path) -> Vec<u16> {
        path.as_os_str()
            .encode_wide()
            .chain(std::iter::once(0))
            .collect()
    }

    /// The owner-only list on an open file, before anything is written to it.
    pub fn restrict_file(file: &std::fs::File) -> io::Result<()> {
        use std::os::windows::io::AsRawHandle;
        apply(false, |pacl| {
            // SAFETY: the handle is open for the call; the ACL outlives it.
            unsafe {
                SetSecurityInfo(
                    file.as_raw_handle() as HANDLE,
                    SE_FILE_OBJECT,
                    DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                    null_mut(),
                    null_mut(),
                    pacl,
                    null_mut(),
                )
            }
        })
    }

    pub fn restrict(path: &Path, folder: bool) -> io::Result<()> {
        let name = wide(path);
        apply(folder, |pacl| {
            // SAFETY: the name is NUL-terminated and the ACL outlives the call.
            unsafe {
                SetNamedSecurityInfoW(
                    name.as_ptr(),
                    SE_FILE_OBJECT,
                    DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                    null_mut(),
                    null_mut(),
                    pacl,
                    null_mut(),
                )
            }
        })
    }

    /// Builds the one-entry list for the current user and hands it to `set`.
    fn apply(folder: bool, set: impl FnOnce(*mut ACL) -> u32) -> io::Result<()> {
        let user = User::current()?;
        // SAFETY: the ACL buffer is sized for one ACE with this SID and outlives the call.
        unsafe {
            let sid = user.sid();
            let len = std::mem::size_of::<ACL>() + std::mem::size_of::<ACCESS_ALLOWED_ACE>()
                - std::mem::size_of::<u32>()
                + GetLengthSid(sid) as usize;
            let mut acl = vec![0u64; len.div_ceil(8)];
            let pacl = acl.as_mut_ptr() as *mut ACL;
            if InitializeAcl(pacl, len as u32, ACL_REVISION) == 0 {
                return Err(io::Error::last_os_error());
            }
            let flags = if folder {
                OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE
            } else {
                0
            };
            if AddAccessAllowedAceEx(pacl, ACL_REVISION, flags, FILE_ALL_ACCESS, sid) == 0 {
                return Err(io::Error::last_os_error());
            }
            let rc = set(pacl);
            if rc != ERROR_SUCCESS {
                return Err(io::Error::from_raw_os_error(rc as i32));
            }
        }
        Ok(())
    }

    pub fn check(path: &Path) -> io::Result<bool> {
        let user = User::current()?;
        let name = wide(path);
        // SAFETY: GetNamedSecurityInfoW allocates the descriptor, freed with LocalFree; the DACL
        // pointer points into it.
        unsafe {
            let mut dacl: *mut ACL = null_mut();
            let mut sd: PSECURITY_DESCRIPTOR = null_mut();
            let rc = GetNamedSecurityInfoW(
                name.as_ptr(),
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION,
                null_mut(),
                null_mut(),
                &mut dacl,
                null_mut(),
                &mut sd,
            );
            if rc != ERROR_SUCCESS {
                return Err(io::Error::from_raw_os_error(rc as i32));
            }
            let mut control = 0u16;
            let mut revision = 0u32;
            GetSecurityDescriptorControl(sd, &mut control, &mut revision);
            let mut ok = !dacl.is_null() && control & SE_DACL_PROTECTED != 0;
            if ok {
                let count = (*dacl).AceCount;
                ok = count > 0;
                for i in 0..count as u32 {
                    let mut ace: *mut core::ffi::c_void = null_mut();
                    if GetAce(dacl, i, &mut ace) == 0 {
                        ok = false;
                        break;
                    }
                    let ace = ace as *const ACCESS_ALLOWED_ACE;
                    // ACCESS_ALLOWED_ACE_TYPE is 0; the SID starts at SidStart.
                    let sid = std::ptr::addr_of!((*ace).SidStart) as *mut core::ffi::c_void;
                    if (*ace).Header.AceType != 0 || EqualSid(sid, user.sid()) == 0 {
                        ok = false;
                        break;
                    }
                }
            }
            LocalFree(sd as _);
            Ok(ok)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_folder_it_creates_and_every_file_it_writes_is_the_owners_alone() {
        let top = tempfile::tempdir().unwrap();
        let leaf = top.path().join("home").join("backups").join("tenant");
        private_dir(&leaf).unwrap();
        for d in [
            top.path().join("home"),
            top.path().join("home/backups"),
            leaf.clone(),
        ] {
            assert!(is_owner_only(&d).unwrap(), "{}", d.display());
        }
        #[cfg(unix)]
        {
            // Folders that were there already keep their mode; calling it again is fine.
            use std::os::unix::fs::PermissionsExt;
            let before = fs::metadata(top.path()).unwrap().permissions().mode();
            private_dir(&leaf).unwrap();
            assert_eq!(
                fs::metadata(top.path()).unwrap().permissions().mode(),
                before
            );
        }
        let f = leaf.join("backup.json");
        write_atomic(&f, b"{}").unwrap();
        assert!(is_owner_only(&f).unwrap());
        let j = leaf.join("journal.jsonl");
        append_durable(&j, b"{}\n").unwrap();
        assert!(is_owner_only(&j).unwrap());
        // A file written into a folder that is not private is made private itself.
        let open = top.path().join("Scripts with spaces");
        fs::create_dir(&open).unwrap();
        let s = open.join("reset trust.ps1");
        write_atomic(&s, b"Write-Host hi").unwrap();
        assert!(is_owner_only(&s).unwrap(), "{}", s.display());
        fs::write(open.join("plain.txt"), b"x").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(open.join("plain.txt"), fs::Permissions::from_mode(0o644)).unwrap();
        }
        assert!(!is_owner_only(&open.join("plain.txt")).unwrap());
        restrict(&open.join("plain.txt")).unwrap();
        assert!(is_owner_only(&open.join("plain.txt")).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_temp_file_or_link_redirects_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("report.md");
        // The temporary name an earlier version used, planted world-writable, and a link planted at
        // the name after it: neither is reused or followed.
        let planted = dir
            .path()
            .join(format!(".report.md.{}.tmp", std::process::id()));
        fs::write(&planted, b"planted").unwrap();
        fs::set_permissions(&planted, fs::Permissions::from_mode(0o666)).unwrap();
        let victim = dir.path().join("victim.txt");
        fs::write(&victim, b"untouched").unwrap();
        // An existing world-readable file at the target: replaced by a 0600 file of its own.
        fs::write(&target, b"old").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o666)).unwrap();
        write_atomic(&target, b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        let m = fs::symlink_metadata(&target).unwrap();
        assert!(m.file_type().is_file());
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read(&planted).unwrap(), b"planted");
        // A link at the target is refused, with the reason; what it points to is untouched.
        let link = dir.path().join("script.ps1");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = write_atomic(&link, b"evil").unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(fs::read(&victim).unwrap(), b"untouched");
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // Nothing is left behind but what was there.
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 4, "{names:?}");
    }

    #[test]
    fn powershell_scripts_carry_a_bom_and_crlf() {
        let b = powershell_file("# Reset — contoso\nWrite-Host 'ok'\r\n");
        assert_eq!(&b[..3], b"\xEF\xBB\xBF");
        let text = std::str::from_utf8(&b[3..]).unwrap();
        assert_eq!(text, "# Reset — contoso\r\nWrite-Host 'ok'\r\n");
    }

    #[test]
    fn replaces_whole_file_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_atomic(&p, b"first version, longer").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }
}
