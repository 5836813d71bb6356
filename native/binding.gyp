{
  "targets": [
    {
      "target_name": "recgate_udp",
      "sources": [
        "udp.c"
      ],
      "cflags": [
        "-O2",
        "-Wall",
        "-Wextra",
        "-std=gnu11"
      ]
    },
    {
      "target_name": "recgate_fileio",
      "sources": [
        "fileio.c"
      ],
      "cflags": [
        "-O2",
        "-Wall",
        "-Wextra",
        "-std=gnu11"
      ]
    }
  ]
}
