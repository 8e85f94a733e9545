# Sourced by scripts/test.sh: Debian's poppler-utils (pdftoppm renders a certificate's page,
# pdftotext reads its text back) and the DejaVu fonts the certificates use (the image installs
# them too), from Debian's packages unless they are there.
if ! command -v pdftoppm >/dev/null || ! command -v pdftotext >/dev/null \
  || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ]; then
  echo "pdf.sh: installing poppler-utils and fonts-dejavu-core from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null \
    && apt-get install -y -qq --no-install-recommends poppler-utils fonts-dejavu-core >/dev/null
fi
