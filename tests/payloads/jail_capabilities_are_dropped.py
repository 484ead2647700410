# The capability sets and no_new_privs of the script, from /proc/self/status.
# Jailed: every set is empty and NoNewPrivs is 1.
def main():
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name.startswith("Cap") or name == "NoNewPrivs":
                fields[name] = value.strip()
    return fields
