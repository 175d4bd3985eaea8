@echo off
rem Trade Hunter launcher (Windows). Creates .venv on first run, refreshes it when
rem pyproject.toml changes, installs the project, then runs the daemon with every argument:
rem   trade-hunter.cmd                 start the dashboard (simulation mode by default)
rem   trade-hunter.cmd --smoke-test    check the pipeline end to end and exit
rem TH_EXTRAS=test adds the test extra; TH_SETUP_ONLY=1 stops after the set-up.
setlocal EnableDelayedExpansion
set "HERE=%~dp0"
set "HERE=%HERE:~0,-1%"
set "VENV=%HERE%\.venv"
set "PY=%VENV%\Scripts\python.exe"
set "STAMP=%VENV%\.th-stamp"

if not exist "%PY%" (
    set "BASEPY="
    where py >nul 2>nul && set "BASEPY=py -3"
    if not defined BASEPY where python >nul 2>nul && set "BASEPY=python"
    if not defined BASEPY (
        echo trade-hunter: Python 3.11 or newer is required 1>&2
        exit /b 1
    )
    !BASEPY! -c "import sys; sys.exit(sys.version_info < (3, 11))"
    if errorlevel 1 (
        echo trade-hunter: Python 3.11 or newer is required 1>&2
        exit /b 1
    )
    echo trade-hunter: creating %VENV% ^(first run^) 1>&2
    !BASEPY! -m venv "%VENV%" || exit /b 1
    "%PY%" -m pip install --quiet --upgrade pip
)

for /f "usebackq delims=" %%H in (`"%PY%" -c "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest()+' '+sys.argv[2])" "%HERE%\pyproject.toml" "%TH_EXTRAS%"`) do set "WANT=%%H"
set "HAVE="
if exist "%STAMP%" set /p HAVE=<"%STAMP%"
if not "!HAVE!"=="!WANT!" (
    echo trade-hunter: installing the project into %VENV% 1>&2
    if defined TH_EXTRAS (
        "%PY%" -m pip install --quiet -e "%HERE%[%TH_EXTRAS%]" || exit /b 1
    ) else (
        "%PY%" -m pip install --quiet -e "%HERE%" || exit /b 1
    )
    > "%STAMP%" echo !WANT!
)
if "%TH_SETUP_ONLY%"=="1" exit /b 0
"%VENV%\Scripts\trade-hunter.exe" %*
exit /b %ERRORLEVEL%
