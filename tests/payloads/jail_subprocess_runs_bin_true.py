# subprocess inside the jail: /bin/true, and a program whose output comes back.
import subprocess


def main():
    true = subprocess.run(["/bin/true"], check=False).returncode
    echoed = subprocess.run(["/bin/echo", "jailed"], capture_output=True, check=True).stdout
    return {"true": true, "echo": echoed.decode().strip()}
