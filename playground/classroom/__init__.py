"""The classroom: a student's short name and leaderboard choice (``student``), the teacher's login (``teacher``) and
the Classroom page's panels (``panels``: jobs, load, caps, runs, leaderboard; ``lesson``: end the lesson). See
docs/classroom.md and docs/architecture.md, "Owners"."""
